package resp

// globMatch reports whether s matches the glob pattern p with Redis's
// rules (KEYS, SCAN MATCH): '*' any run of bytes, '?' one byte, '[...]'
// one byte of a set ('^' first negates it, 'a-z' a range in either order,
// '\' escapes), '\' makes the next byte literal; bytes compare as C's
// signed chars do in ranges. As in Redis, an empty string matches no
// non-empty pattern (KEYS and SCAN treat a lone "*" apart). An unclosed '[' matches as if closed at the
// end of the pattern.
func globMatch(p, s []byte) bool {
	giveUp := false
	return globFrom(p, s, &giveUp)
}

// globFrom matches p against s. giveUp is set once a '*' found that the
// rest of the pattern matches nowhere in the rest of the string: an
// earlier '*' taking more of the string cannot help then.
func globFrom(p, s []byte, giveUp *bool) bool {
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for ; len(s) > 0; s = s[1:] {
				if globFrom(p[1:], s, giveUp) {
					return true
				}
				if *giveUp {
					return false
				}
			}
			*giveUp = true
			return false
		case '?':
			s = s[1:]
		case '[':
			var ok bool
			if p, ok = globClass(p[1:], s[0]); !ok {
				return false
			}
			if len(p) == 0 {
				p = []byte{']'} // an unclosed class ends the pattern
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}

// globClass matches c against the class that p starts just after '['. It
// returns p at the class's closing ']' (empty when unclosed), and whether
// c matched.
func globClass(p []byte, c byte) ([]byte, bool) {
	negate := len(p) > 0 && p[0] == '^'
	if negate {
		p = p[1:]
	}
	match := false
	for {
		switch {
		case len(p) == 0:
			return p, match != negate // unclosed
		case p[0] == '\\' && len(p) >= 2:
			p = p[1:]
			match = match || p[0] == c
		case p[0] == ']':
			return p, match != negate
		case len(p) >= 3 && p[1] == '-':
			lo, hi := int8(p[0]), int8(p[2])
			if lo > hi {
				lo, hi = hi, lo
			}
			match = match || (int8(c) >= lo && int8(c) <= hi)
			p = p[2:]
		default:
			match = match || p[0] == c
		}
		p = p[1:]
	}
}

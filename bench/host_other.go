//go:build !unix

package main

// hostCosts is measured on Unix systems only.
func hostCosts(dir string) (string, error) { return "", nil }

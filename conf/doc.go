// Package conf holds a raftkv node's configuration: where it listens, who
// its peers are, where its data lives, and its timeouts and limits.
//
// Every setting is a flag, an environment variable and a key of a YAML
// config file, with that precedence: flags override the environment, which
// overrides the file, which overrides the defaults. The flag --id, the
// variable RAFTKV_ID and the file key "id" are the same setting. Parse
// validates the result and names the offending setting in one sentence.
package conf

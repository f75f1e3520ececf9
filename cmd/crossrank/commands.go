package main

// registry holds the subcommands; each cmd_*.go file registers its own in an
// init function, so adding a command touches no shared file.
var registry []command

func register(c command) { registry = append(registry, c) }

func commands() []command { return registry }

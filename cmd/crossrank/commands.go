package main

// registry holds the subcommands; each cmd_*.go file registers its own in an
// init function, so adding a command touches no shared file.
var registry []command

func register(c command) { registry = append(registry, c) }

func commands() []command { return registry }

// modelRegistry holds the subcommands of `crossrank model` (twin, quantize,
// pull), registered the same way with registerModel.
var modelRegistry []command

func registerModel(c command) { modelRegistry = append(modelRegistry, c) }

package main

// commands lists crossrank's subcommands. Adding one is one line here.
func commands() []command {
	return []command{newBenchCmd, newEvalCmd, newModelCmd, newPluginCmd, newScoreCmd, newServeCmd, newTokenizeCmd}
}

// modelCommands lists the subcommands of `crossrank model`.
func modelCommands() []command {
	return []command{newModelTwinCmd, newModelQuantizeCmd, newModelConvertCmd, newModelPullCmd}
}

"""The CLI: the parser, one module of verbs per noun group, serial attach, doctor."""

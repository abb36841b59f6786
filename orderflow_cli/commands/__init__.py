"""The `orders` command's subcommands, one module per family: `local` (run, serve), `report`,
`dlq`, `batches`, `senders`; `options` holds what they share (the command classes, the stack
options, the answer's printing).

Each click command checks its own options and calls one plain function with typed arguments.
Importing these modules imports click and nothing heavier: a command imports what it uses when
it runs, so `orders --help` starts at once and a command aimed at a deployed stage never imports
moto, the emulator or Chalice (`tests/cli/test_stage_commands.py` checks it).
"""

"""The front door's domain, pure: commands, the resident's decision state, `decide` and `evolve`. No I/O, no clock."""

// The client commands (`weft tenant`, `weft network`, ...) that talk to a
// running daemon's admin API. Each registers itself on the program here;
// `weft serve` lives in ../main.ts.
import type { Command } from 'commander';

export function registerClientCommands(program: Command): Command {
  return program;
}

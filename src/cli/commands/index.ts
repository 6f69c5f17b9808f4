/** The `trm` subcommands, in the order `trm --help` lists them. */
import type { Command } from '../command.js';
import { infoCommand } from './info.js';

export const commands: Command[] = [infoCommand];

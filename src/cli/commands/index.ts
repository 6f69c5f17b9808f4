/** The `trm` subcommands, in the order `trm --help` lists them. */
import type { Command } from '../command.js';
import { infoCommand } from './info.js';
import { dataCommand } from './data.js';

export const commands: Command[] = [infoCommand, dataCommand];

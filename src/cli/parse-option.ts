// Values of the commands' own options (not settings), checked where they enter, with the option named in the error.
import { parseDuration } from '../config.ts';
import { CliError } from './cli-error.ts';

/** A whole number of at least `minimum`. */
export function wholeNumber(flag: string, text: string, minimum = 0): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < minimum)
    throw new CliError(`${flag}: "${text}" must be a whole number of at least ${minimum}`, 2);
  return Number(text);
}

/** A duration with its unit (250ms, 30s, 5m, 1h, 7d); a bare number is refused rather than guessed. */
export function durationOption(flag: string, text: string): number {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text))
    throw new CliError(`${flag}: "${text}" has no unit; write it like ${text.trim()}s or ${text.trim()}ms`, 2);
  try {
    return parseDuration(text);
  } catch (error) {
    throw new CliError(`${flag}: ${(error as Error).message}`, 2);
  }
}

/** `--rate 20`, `--rate 20/s` or `--rate 300/m`, as actions per second. */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|m|h))?$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) throw new CliError(`--rate: "${text}" is not a rate; write it like 20/s or 300/m`, 2);
  const per = { s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 's' | 'm' | 'h'];
  return Number(match[1]) / per;
}

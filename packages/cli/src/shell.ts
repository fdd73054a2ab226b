/**
 * The wire runs a command as `/bin/sh -c <string>`. One argument is taken as a shell line
 * (`mitos run -- 'ls | wc -l'`); several are an argv, quoted so each word survives the shell
 * (`mitos run -- python -c 'print(1)'`).
 */
export function toShellCommand(argv: readonly string[]): string {
  if (argv.length === 1) return argv[0] ?? '';
  return argv.map(quote).join(' ');
}

function quote(word: string): string {
  if (/^[A-Za-z0-9_\-.,:/@%+=]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

import { pino, type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'auto' | 'json' | 'pretty';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One pino JSON line as a readable one: `12:00:01.234 WARN message key=value …`. Unparseable lines pass as they are. */
export function prettyLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, ...rest } = rec;
  const when = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return [when, (LEVELS[level as number] ?? String(level)).padEnd(5), msg ?? '', ...fields].filter((s) => s !== '').join(' ') + '\n';
}

/** One write of JSON lines made readable: a write may hold several (the access log batches one turn's). */
export function prettyLines(text: string): string {
  return text.split('\n').filter((l) => l !== '').map(prettyLine).join('');
}

/** stdout, made readable when `format` is pretty (auto: when stdout is a terminal). */
export function logDestination(format: LogFormat = 'json'): DestinationStream {
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  return pretty ? { write: (text: string) => void process.stdout.write(prettyLines(text)) } : pino.destination({ dest: 1, sync: true });
}

/**
 * The gateway's logger. Bearer money MUST never reach it: request headers are not logged, and
 * these paths are redacted as a second line of defence.
 */
export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: ['token', 'proofs', 'secret', 'receipt', '*.token', '*.proofs', '*.secret', '*.receipt', 'headers["x-cashu"]', 'headers.authorization'], censor: '[redacted]' },
    },
    logDestination(format),
  );
}

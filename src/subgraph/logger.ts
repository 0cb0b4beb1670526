/** A pino logger fits, as does any other with these two methods. */
export interface KitLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

/** The kit's default logger: warnings as JSON lines on stderr, with the fields pino would write. */
export const stderrWarnings = (component: string): KitLogger => ({
  warn: (details, message) => void process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), component, ...details, msg: message })}\n`),
  info: () => {},
});

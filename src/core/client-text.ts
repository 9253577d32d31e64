/** Longest piece of client input an error message or log line repeats. */
const MAX_ECHO = 64;

/**
 * Client input as an error message may repeat it: at most a short prefix, control characters shown as `\xNN`
 * (a name or value from a startup packet can be kilobytes of anything).
 */
export function clientText(text: string, max = MAX_ECHO): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

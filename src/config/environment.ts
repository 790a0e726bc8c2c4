/**
 * The environment handed to programs buudien runs (sms.command): the server's own, with the
 * values the program is told about added. The one place outside load.ts that reads process.env.
 */
export function environmentWith(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { ...process.env, ...extra };
}

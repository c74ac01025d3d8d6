// For tests: `learnhook demo` (or `npm start`) as a child process, with the URLs and paths it prints read back.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface DemoProcess {
  child: ChildProcess;
  /** The one-time sign-in link of the dashboard. */
  signInUrl: string;
  apiUrl: string;
  docsUrl: string;
  adminToken: string;
  mirrorUrl: string;
  mirrorDb: string;
  /** Everything printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Sends SIGINT to the process group (as Ctrl-C does) and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns a command that prints the demo's block and resolves once the block is complete. */
export async function spawnDemo(command: string, args: string[], options: { cwd: string; timeoutMs?: number }): Promise<DemoProcess> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    // Its own process group, so a Ctrl-C reaches npm and the node it starts alike.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const line = (label: string) => new RegExp(`^ {2}${label} +(\\S+)`, 'm').exec(text)?.[1];
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!line('look inside')) {
    if (child.exitCode !== null) throw new Error(`the demo exited with ${child.exitCode} before it was ready:\n${text}`);
    if (Date.now() > deadline) {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
      throw new Error(`the demo did not print its URLs in time:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const signInUrl = line('dashboard') ?? '';
  const apiUrl = new URL(signInUrl).origin;
  const mirrorPage = line('mirror') ?? '';
  return {
    child,
    signInUrl,
    apiUrl,
    docsUrl: line('API docs') ?? '',
    adminToken: line('admin token') ?? '',
    mirrorUrl: mirrorPage.replace(/\/$/, ''),
    mirrorDb: line('mirror db') ?? '',
    output: () => text,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      process.kill(-(child.pid ?? 0), 'SIGINT');
      const timer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 20_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return code;
    },
  };
}

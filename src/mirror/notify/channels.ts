// The two channels: e-mail over SMTP (nodemailer; .eml files when no --smtp-url) and a chat incoming webhook (POST {"text"}).
import fs from 'node:fs/promises';
import net from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Settings } from '../../config.ts';
import type { ChatChannel, RuleDefinition } from './rules.ts';

export interface OutgoingMessage {
  subject: string;
  text: string;
  /**
   * Stable for every attempt of one message: the e-mail's Message-ID and the chat POST's Idempotency-Key, so a
   * receiver can drop the copy a crash between sending and recording may cause.
   */
  key: string;
}

type ChannelSettings = Pick<Settings, 'smtpUrl' | 'mailFrom' | 'dataDir' | 'notifyTimeoutMs'>;

export class Channels {
  readonly #transport: Transporter;
  readonly #toFiles: boolean;
  readonly #domain = hostname().replace(/[^\w.-]/g, '') || 'learnhook';

  constructor(private readonly settings: ChannelSettings) {
    this.#toFiles = !settings.smtpUrl;
    const timeout = settings.notifyTimeoutMs;
    this.#transport = settings.smtpUrl
      ? nodemailer.createTransport({ url: settings.smtpUrl, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout })
      : nodemailer.createTransport({ streamTransport: true, buffer: true });
  }

  /** Sends an e-mail; throws with the server's answer when it is refused. Returns where it went. */
  async sendEmail(to: readonly string[], message: OutgoingMessage): Promise<string> {
    const info = await this.#transport.sendMail({
      from: this.settings.mailFrom,
      to: [...to],
      subject: message.subject,
      text: message.text,
      messageId: `<${message.key}@${this.#domain}>`,
    });
    if (!this.#toFiles) return `SMTP ${redactSmtp(this.settings.smtpUrl)}`;
    const folder = path.join(this.settings.dataDir, 'notifications');
    await fs.mkdir(folder, { recursive: true });
    const file = path.join(folder, `${message.key}.eml`);
    await fs.writeFile(file, (info as { message: Buffer }).message);
    return file;
  }

  /** POSTs `{"text": …}` (what Slack and Teams incoming webhooks read); any answer but 2xx is a failure. */
  async sendChat(url: string, message: OutgoingMessage): Promise<string> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': message.key },
      body: JSON.stringify({ text: message.text }),
      signal: AbortSignal.timeout(this.settings.notifyTimeoutMs),
    });
    const answer = (await response.text()).slice(0, 200);
    if (!response.ok) throw new Error(`the chat webhook answered ${response.status}${answer ? `: ${answer}` : ''}`);
    return new URL(url).origin;
  }

  /** Whether the SMTP server answers (connects and greets); undefined when it does, or the reason. */
  async checkSmtp(): Promise<string | undefined> {
    if (this.#toFiles) return undefined;
    try {
      await this.#transport.verify();
      return undefined;
    } catch (error) {
      return `the SMTP server ${redactSmtp(this.settings.smtpUrl)} does not answer: ${(error as Error).message}`;
    }
  }

  close(): void {
    this.#transport.close();
  }
}

function redactSmtp(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

/** Opens (and closes) a TCP connection to the chat webhook's host: a check that sends nothing. */
async function checkChat(channel: ChatChannel, timeoutMs: number): Promise<string | undefined> {
  const url = new URL(channel.url);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`cannot reach ${url.host}: no answer within ${timeoutMs} ms`);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(`cannot reach ${url.host}: ${error.code ?? error.message}`));
  });
}

/** Problems with the rules' channels, each naming the rule and the field (`rule "x": channel.url: cannot reach …`). */
export async function checkChannels(rules: readonly RuleDefinition[], channels: Channels, timeoutMs: number): Promise<string[]> {
  const problems: string[] = [];
  let smtp: Promise<string | undefined> | undefined;
  for (const rule of rules) {
    if (rule.channel.type === 'email') {
      smtp ??= channels.checkSmtp();
      const problem = await smtp;
      if (problem) problems.push(`rule "${rule.name}": channel: ${problem} (set --smtp-url to a reachable server)`);
    } else {
      const problem = await checkChat(rule.channel, timeoutMs);
      if (problem) problems.push(`rule "${rule.name}": channel.url: ${problem}`);
    }
  }
  return problems;
}

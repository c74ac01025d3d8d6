// E-mails to an account's contact about a failing or disabled webhook: SMTP when --smtp-url is set, .eml files under <data-dir>/mail otherwise.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Settings } from '../config.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export class Notifier {
  // nodemailer loads on the first mail: most processes never send one, and it would slow every start.
  #transport: Promise<Transporter> | undefined;
  readonly #toFiles: boolean;
  constructor(
    private readonly settings: Pick<Settings, 'smtpUrl' | 'mailFrom' | 'dataDir'>,
    private readonly logger: Logger,
  ) {
    this.#toFiles = !settings.smtpUrl;
  }

  #transporter(): Promise<Transporter> {
    this.#transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      this.settings.smtpUrl
        ? nodemailer.createTransport(this.settings.smtpUrl)
        : nodemailer.createTransport({ streamTransport: true, buffer: true }),
    );
    return this.#transport;
  }

  /** Sends a mail; a failure to send is logged, never thrown: the webhook's state must not depend on the mail server. */
  async send(mail: Mail): Promise<boolean> {
    try {
      const transport = await this.#transporter();
      const info = await transport.sendMail({ from: this.settings.mailFrom, to: mail.to, subject: mail.subject, text: mail.text });
      if (this.#toFiles) {
        const folder = path.join(this.settings.dataDir, 'mail');
        await fs.mkdir(folder, { recursive: true });
        const file = path.join(folder, `${new Date().toISOString().replaceAll(':', '-')}-${randomBytes(3).toString('hex')}.eml`);
        await fs.writeFile(file, (info as { message: Buffer }).message);
        this.logger.info({ to: mail.to, file }, `e-mail "${mail.subject}" written to ${file}`);
      } else {
        this.logger.info({ to: mail.to }, `e-mail "${mail.subject}" sent`);
      }
      return true;
    } catch (error) {
      this.logger.error({ err: error, to: mail.to }, `could not send the e-mail "${mail.subject}"`);
      return false;
    }
  }

  close(): void {
    void this.#transport?.then((transport) => transport.close());
  }
}

interface MailWebhook {
  id: string;
  name: string;
  url: string;
  account_id: number;
  failing_since: number | null;
}

/** The reminder sent while a webhook keeps failing. */
export function failingMail(to: string, webhook: MailWebhook, lastError: string | null, disableAt: number): Mail {
  const since = webhook.failing_since === null ? 'recently' : new Date(webhook.failing_since).toISOString();
  return {
    to,
    subject: `learnhook: webhook ${webhook.name} is failing`,
    text: [
      `The webhook "${webhook.name}" (${webhook.id}) of account ${webhook.account_id} has failed every delivery since ${since}.`,
      `Target: ${webhook.url}`,
      lastError ? `Last error: ${lastError}` : '',
      `Events stay queued and are retried; if deliveries still fail at ${new Date(disableAt).toISOString()}, the webhook is disabled.`,
      'Events older than the retention period are lost for good.',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

/** The notice sent once when learnhook disables a webhook. */
export function disabledMail(to: string, webhook: MailWebhook, reason: string): Mail {
  return {
    to,
    subject: `learnhook: webhook ${webhook.name} was disabled`,
    text: [
      `The webhook "${webhook.name}" (${webhook.id}) of account ${webhook.account_id} was disabled: ${reason}.`,
      `Target: ${webhook.url}`,
      'Re-enable it (PATCH the webhook with {"active": true}) to resume delivery from where it stopped.',
    ].join('\n'),
  };
}

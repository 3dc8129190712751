import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { describeViolations, launchBrowser, screenshot, seriousViolations } from './browser.js';

const PASSWORD = 'limits-test-password';

describe('the dashboard when its login ends or is refused, in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // Three failed logins per address, refilled once in 100 s: the fourth attempt is refused.
    server = await startTestServer({
      ADMIN_PASSWORD: PASSWORD,
      RATE_LIMIT_ANONYMOUS_BURST: '3',
      RATE_LIMIT_ANONYMOUS_PER_SECOND: '0.01',
    });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Records the close code of every WebSocket the page opens (an init script runs despite the CSP).
    await context.addInitScript(() => {
      const g = globalThis as unknown as {
        WebSocket: new (...args: unknown[]) => EventTarget;
        closeCodes: number[];
      };
      const Native = g.WebSocket;
      g.closeCodes = [];
      g.WebSocket = class extends Native {
        constructor(...args: unknown[]) {
          super(...args);
          this.addEventListener('close', (e) => g.closeCodes.push((e as unknown as { code: number }).code));
        }
      };
    });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  it('goes back to the login form, saying why, when the login is ended elsewhere (socket closed 4001)', async () => {
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('.live-open').waitFor();
    // Another tab logs out: the same cookie, sent from outside the page.
    const cookie = (await context.cookies()).find((c) => c.name === 'scs_ui');
    expect(cookie).toBeDefined();
    const headers = { cookie: `scs_ui=${cookie?.value ?? ''}` };
    const me = (await (await fetch(`${server.url}/ui/api/me`, { headers })).json()) as { csrf: string };
    const out = await fetch(`${server.url}/ui/api/logout`, {
      method: 'POST',
      headers: { ...headers, 'x-csrf-token': me.csrf, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(out.status).toBe(200);
    // The server closes the page's socket with 4001; the page asks GET me, gets 401 and shows the form.
    await page.getByLabel('Admin password').waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'Your login ended' }).count()).toBe(1);
    expect(await page.locator('.live').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { closeCodes: number[] }).closeCodes)).toEqual(
      [4001],
    );
  });

  it('shows the rate limit with the time to retry after repeated wrong passwords (429)', async () => {
    const alert = page.getByRole('alert');
    for (let i = 0; i < 3; i++) {
      await page.getByLabel('Admin password').fill(`wrong guess ${i}`);
      await page.getByRole('button', { name: 'Log in' }).click();
      await expect.poll(() => alert.textContent()).toBe('Wrong password.');
      // Cleared between attempts, so each answer is this attempt's.
      await page.getByLabel('Admin password').fill('');
    }
    // Even the right password is refused while the address's bucket is empty.
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => alert.textContent())
      .toMatch(/^Too many failed attempts\. Try again in \d+ s \(at \d{1,2}:\d{2}:\d{2}( [AP]M)?\)\.$/);
    const seconds = Number(/in (\d+) s/.exec((await alert.textContent()) ?? '')?.[1]);
    // The refill is 0.01/s: one attempt is back in at most 100 s.
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(100);
    await screenshot(page, 'login-rate-limited');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
  });
});

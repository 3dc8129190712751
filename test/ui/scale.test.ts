import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePrincipal } from '../../src/auth/principal.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from '../helpers/server.js';
import { launchBrowser, screenshot } from './browser.js';

const PASSWORD = 'dashboard-scale-password';
const COUNT = 10_000;
const MIDDLE = 5_000;
const UNIQUE = 'zebraquartzine';

describe('a session of 10,000 messages in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let sessionId: string;
  let bearer: Record<string, string>;
  const ids: number[] = [];

  beforeAll(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD });
    bearer = { authorization: `Bearer ${await tokenFor(server, 'bulk-agent')}` };
    await callHttpTool(server.url, 'register_agent', {}, bearer);
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'Ten thousand' }, bearer);
    sessionId = created.body.session_id as string;
    // In-process through the service: 10,000 HTTP calls would take most of the time box.
    const writer = makePrincipal('bulk-agent', 'generic', ['read', 'write']);
    const add = (i: number, parent?: number) =>
      server.app.services.messages.add(writer, {
        sessionId,
        content: i === MIDDLE ? `step ${i}: the ${UNIQUE} marker` : `step ${i} with **some** text`,
        visibility: 'public',
        messageType: 'agent_response',
        parentMessageId: parent,
      });
    for (let i = 1; i <= COUNT; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, (_, k) => add(i + k)));
      ids.push(...batch.map((b) => b.message_id));
    }
    ids.sort((a, b) => a - b);
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('table').waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  const rows = () => page.locator('li.message');
  const box = '.virtual-box';

  it('opens on the newest messages with only the rows in view in the DOM', async () => {
    await page.goto(`${server.url}/ui/#/sessions/${sessionId}`);
    await page.locator(`li[data-message-id="${ids.at(-1)}"]`).waitFor();
    expect(await rows().count()).toBeLessThan(300);
  });

  it('pages older messages in as the reader scrolls up, until the first one', async () => {
    const first = page.locator(`li[data-message-id="${ids[0]}"]`);
    await expect
      .poll(
        async () => {
          await page.locator(box).evaluate((el) => (el.scrollTop = 0));
          return first.count();
        },
        { timeout: 100_000, interval: 50 },
      )
      .toBe(1);
    expect(await first.textContent()).toContain('step 1 ');
    expect(await rows().count()).toBeLessThan(300);
  }, 120_000);

  it('finds a middle message by search and shows it, paging it in from a fresh load', async () => {
    // A fresh page holds only the newest 200: the jump must page the middle one in.
    await page.reload();
    await page.locator(`li[data-message-id="${ids.at(-1)}"]`).waitFor();
    await page.getByLabel('Search messages').fill(UNIQUE);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const hit = page.locator('.results button', { hasText: `#${ids[MIDDLE - 1]}` });
    await hit.click();
    const target = page.locator(`li[data-message-id="${ids[MIDDLE - 1]}"]`);
    await target.waitFor();
    expect(await target.textContent()).toContain(UNIQUE);
    await expect.poll(() => target.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);
    expect(await rows().count()).toBeLessThan(300);
  }, 60_000);

  it('appends a live message at the bottom while the reader is there', async () => {
    await page.locator(box).evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.locator(`li[data-message-id="${ids.at(-1)}"]`).waitFor();
    const written = await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'The live one at the end' },
      bearer,
    );
    const live = page.locator(`li[data-message-id="${written.body.message_id as number}"]`);
    await live.waitFor();
    await expect.poll(() => live.isVisible()).toBe(true);
    const inView = await page.locator(box).evaluate((el, id) => {
      const row = el.querySelector(`[data-message-id="${id}"]`)!.getBoundingClientRect();
      const view = el.getBoundingClientRect();
      return row.top >= view.top - 1 && row.bottom <= view.bottom + 1;
    }, written.body.message_id as number);
    expect(inView).toBe(true);
    expect(await rows().count()).toBeLessThan(300);
    await screenshot(page, 'session-10k');
  });
});

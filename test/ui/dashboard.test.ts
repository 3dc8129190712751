import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectMcp } from '../helpers/mcp-client.js';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from '../helpers/server.js';
import { describeViolations, launchBrowser, screenshot, seriousViolations } from './browser.js';

const PASSWORD = 'dashboard-test-password';
const BUDGET_BYTES = 200 * 1024;

describe('the dashboard in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let sessionId: string;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD });
    bearer = { authorization: `Bearer ${await tokenFor(server, 'writer-agent')}` };
    await callHttpTool(server.url, 'register_agent', { capabilities: ['planning'] }, bearer);
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'Plan the release' }, bearer);
    sessionId = created.body.session_id as string;
    const first = await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'First **bold** note', metadata: { step: 1 } },
      bearer,
    );
    await callHttpTool(
      server.url,
      'add_message',
      {
        session_id: sessionId,
        content: 'A reply <img src=x onerror="globalThis.pwned=1">',
        parent_message_id: first.body.message_id,
      },
      bearer,
    );
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    // Shorter than the test's own timeout, so a missing element fails with the locator's message.
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  it('shows the login form to a visitor without a cookie, and refuses the API with 401', async () => {
    const anonymous = await browser.newContext();
    try {
      const visitor = await anonymous.newPage();
      visitor.setDefaultTimeout(10_000);
      await visitor.goto(`${server.url}/ui/`);
      await visitor.getByLabel('Admin password').waitFor();
      const status = await visitor.evaluate(async () => (await fetch('/ui/api/sessions')).status);
      expect(status).toBe(401);
      await screenshot(visitor, 'login');
      const violations = await seriousViolations(visitor);
      expect(violations, describeViolations(violations)).toEqual([]);
    } finally {
      await anonymous.close();
    }
  });

  it('says so when the password is wrong', async () => {
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel('Admin password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong password');
  });

  it('logs in and lists the sessions', async () => {
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    const row = page.locator(`tr[data-session-id="${sessionId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('Plan the release');
    expect(await row.locator('[data-col="messages"]').textContent()).toBe('2');
    await screenshot(page, 'sessions');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
  });

  it('updates a row of the sessions table live when an agent writes', async () => {
    await page.locator('.live-open').waitFor();
    await callHttpTool(server.url, 'add_message', { session_id: sessionId, content: 'third' }, bearer);
    await expect
      .poll(() => page.locator(`tr[data-session-id="${sessionId}"] [data-col="messages"]`).textContent())
      .toBe('3');
  });

  it('opens a session: markdown rendered and sanitized, the reply indented under its parent', async () => {
    await page.getByRole('link', { name: 'Plan the release' }).click();
    await page.getByRole('heading', { name: 'Plan the release' }).waitFor();
    const items = page.locator('li.message');
    await expect.poll(() => items.count()).toBe(3);
    const first = items.nth(0);
    expect(await first.locator('.content strong').textContent()).toBe('bold');
    expect(await first.locator('details summary').textContent()).toBe('Metadata');
    const reply = items.nth(1);
    expect(await reply.getAttribute('class')).toContain('depth-1');
    expect(await reply.textContent()).toContain('in reply to');
    // The onerror attribute was stripped by DOMPurify: nothing ran.
    expect(await reply.locator('img').getAttribute('onerror')).toBeNull();
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
  });

  it('shows a message an agent writes through the official MCP client without a reload', async () => {
    await page.locator('.live-open').waitFor();
    const marker = await page.evaluate(() => ((globalThis as { marker?: number }).marker = 42));
    const agent = await connectMcp(server.url, bearer);
    const written = await callTool(agent, 'add_message', {
      session_id: sessionId,
      content: 'Live from an *agent*',
      visibility: 'private',
    });
    await agent.close();
    expect(written.isError).toBe(false);
    const id = written.json.message_id as number;
    const item = page.locator(`li[data-message-id="${id}"]`);
    await item.waitFor();
    expect(await item.textContent()).toContain('Live from an agent');
    expect(await item.locator('.badge.vis-private').textContent()).toBe('private');
    // Same document: a reload would have dropped the marker.
    expect(await page.evaluate(() => (globalThis as { marker?: number }).marker)).toBe(marker);
    await screenshot(page, 'session');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
  });

  it('announces new live messages to a screen reader, a burst as one announcement', async () => {
    const region = page.locator('[data-announcer="messages"]');
    expect(await region.getAttribute('aria-live')).toBe('polite');
    // Visually hidden: one pixel, clipped.
    expect((await region.boundingBox())?.width).toBeLessThanOrEqual(1);
    const say = (content: string) =>
      callHttpTool(server.url, 'add_message', { session_id: sessionId, content }, bearer);
    // The previous test's live message, announced once its burst ended.
    // An announcement waits for a quiet second after the burst: polls allow for that.
    const text = () => region.textContent();
    await expect.poll(text, { timeout: 5_000 }).toBe('New message from writer-agent');
    await say('one for the reader');
    // The same words again: a trailing no-break space makes the reader say them again.
    await expect.poll(text, { timeout: 5_000 }).toBe('New message from writer-agent\u00a0');
    await Promise.all([say('burst 1'), say('burst 2'), say('burst 3')]);
    await expect.poll(text, { timeout: 5_000 }).toBe('3 new messages from writer-agent');
  });

  it('searches the session and posts an operator message with the CSRF token', async () => {
    await page.getByLabel('Search messages').fill('bold note');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.locator('.results').textContent()).toContain('writer-agent');
    await page.getByLabel('Message as operator').fill('From the **operator**');
    await page.getByRole('button', { name: 'Send' }).click();
    const mine = page.locator('li.message', { hasText: 'From the operator' });
    await mine.waitFor();
    expect(await mine.locator('.sender').textContent()).toBe('dashboard');
    expect(await mine.textContent()).toContain('human');
  });

  it('shows the agents and metrics pages', async () => {
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('cell', { name: 'writer-agent' }).waitFor();
    await screenshot(page, 'agents');
    await page.getByRole('link', { name: 'Metrics' }).click();
    await page.getByRole('heading', { name: 'Tool calls per second' }).waitFor();
    await page.getByRole('cell', { name: 'add_message' }).waitFor();
    // A point needs two snapshots (GET metrics, then a `metrics` frame, which comes every 2 s).
    for (let i = 0; i < 5; i++) {
      await callHttpTool(server.url, 'add_message', { session_id: sessionId, content: `load ${i}` }, bearer);
    }
    await page.locator('#chart-calls[data-points]').waitFor();
    await screenshot(page, 'metrics');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
  });

  it('charts latency p99 and open connections from live frames, each with its values in text', async () => {
    await page.getByRole('heading', { name: 'Latency p99' }).waitFor();
    const latency = page.getByRole('img', { name: /^Latency p99 in milliseconds/ });
    const connections = page.getByRole('img', { name: /^Open connections over the last two minutes/ });
    await latency.and(page.locator('[data-points]')).waitFor();
    await connections.and(page.locator('[data-points]')).waitFor();
    // uPlot drew into each box; the text alternative is the latest frame's values.
    expect(await latency.locator('canvas').count()).toBe(1);
    expect(await connections.locator('canvas').count()).toBe(1);
    expect(await latency.getAttribute('aria-describedby')).toBe('chart-latency-now');
    await expect
      .poll(() => page.locator('#chart-latency-now').textContent(), { timeout: 5_000 })
      .toMatch(/^Now: \d+(\.\d+)? ms p99, slowest tool [a-z_]+\.$/);
    // This page's own live socket is an open dashboard.
    expect(await page.locator('#chart-connections-now').textContent()).toMatch(
      /^Now: agent WebSockets \d+, MCP sessions \d+, dashboards [1-9]\d*\.$/,
    );
    // Every frame (one each 2 s) adds a point to both.
    const count = async (chart: typeof latency) => Number(await chart.getAttribute('data-points'));
    const before = await count(connections);
    await expect.poll(() => count(connections), { timeout: 8_000 }).toBeGreaterThan(before);
    expect(await count(latency)).toBeGreaterThan(0);
  });

  it('pages a long session by before_id, with only the rows in view in the DOM', async () => {
    const big = await callHttpTool(server.url, 'create_session', { purpose: 'A long run' }, bearer);
    const id = big.body.session_id as string;
    for (let i = 1; i <= 650; i++) {
      await callHttpTool(server.url, 'add_message', { session_id: id, content: `step ${i}` }, bearer);
    }
    await page.goto(`${server.url}/ui/#/sessions/${id}`);
    const items = page.locator('li.message');
    await page.locator('li.message .content', { hasText: /^\s*step 650\s*$/ }).waitFor();
    expect(await items.count()).toBeLessThan(200);
    const first = page.locator('li.message .content', { hasText: /^\s*step 1\s*$/ });
    await expect
      .poll(async () => {
        await page.locator('.virtual-box').evaluate((el) => (el.scrollTop = 0));
        return first.count();
      })
      .toBe(1);
    expect(await items.count()).toBeLessThan(200);
  });

  it('lays the session out for a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/ui/#/sessions/${sessionId}`);
    await page.locator('li.message').first().waitFor();
    await screenshot(page, 'session-phone');
    const overflow = await page.evaluate(() => {
      const root = (
        globalThis as unknown as {
          document: { documentElement: { scrollWidth: number; clientWidth: number } };
        }
      ).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('re-reads the session after the live socket reconnects, showing what was written meanwhile', async () => {
    await page.goto(`${server.url}/ui/#/sessions/${sessionId}`);
    await page.locator('li.message').first().waitFor();
    await page.locator('.live-open').waitFor();
    const port = new URL(server.url).port;
    // The page's server goes away; another server on the same data writes while no socket is open.
    await server.stop();
    await page.locator('.live-open').waitFor({ state: 'detached' });
    const other = await startTestServer({ ADMIN_PASSWORD: PASSWORD }, server.dataDir);
    const written = await callHttpTool(
      other.url,
      'add_message',
      { session_id: sessionId, content: 'written while the page was offline' },
      { authorization: `Bearer ${await tokenFor(other, 'writer-agent')}` },
    );
    await other.stop();
    // Back on the page's port: the socket reconnects (with backoff) and the page re-reads.
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD, HTTP_PORT: port }, server.dataDir);
    await page
      .locator(`li[data-message-id="${written.body.message_id as number}"]`)
      .waitFor({ timeout: 25_000 });
  }, 45_000);

  it('logs out back to the login form', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin password').waitFor();
    const status = await page.evaluate(async () => (await fetch('/ui/api/me')).status);
    expect(status).toBe(401);
  });

  it('keeps the first load under 200 KB (shell, script with the chunks it imports, stylesheet)', async () => {
    const bytes = async (file: string) => {
      const res = await fetch(`${server.url}/ui/${file}`);
      expect(res.status).toBe(200);
      return Buffer.from(await res.arrayBuffer());
    };
    const app = await bytes('app.js');
    // Static imports load with the script; a dynamic import() (the metrics page) only when used.
    const imported = [
      ...app
        .toString()
        .matchAll(/\bimport\s*(?:\{[^}]*\}\s*from\s*|[\w$*\s,]+from\s*)?"\.\/(chunk-\w+\.js)"/g),
    ].map((m) => m[1] ?? '');
    const lazy = [...app.toString().matchAll(/\bimport\("\.\/(chunk-\w+\.js)"\)/g)].map((m) => m[1]);
    expect(lazy.length).toBeGreaterThan(0);
    let total = app.length + (await bytes('')).length + (await bytes('app.css')).length;
    for (const chunk of imported) total += (await bytes(chunk)).length;
    expect(total).toBeLessThan(BUDGET_BYTES);
    // The shell references exactly these two assets.
    const shell = readFileSync('ui/index.html', 'utf8');
    expect(shell).toContain('/ui/app.js');
    expect(shell).toContain('/ui/app.css');
  });
});

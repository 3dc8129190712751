import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from '../helpers/server.js';
import { describeViolations, launchBrowser, screenshot, seriousViolations } from './browser.js';

const PASSWORD = 'dashboard-actions-password';

describe('the dashboard acts on sessions, agents and memory', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let sessionId: string;
  let bearer: Record<string, string>;

  const pageFetch = (href: string) =>
    page.evaluate(async (url) => {
      const res = await fetch(url, { credentials: 'same-origin' });
      return { status: res.status, text: await res.text() };
    }, href);

  beforeAll(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD });
    bearer = { authorization: `Bearer ${await tokenFor(server, 'planner-agent')}` };
    await callHttpTool(server.url, 'register_agent', { capabilities: ['planning'] }, bearer);
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'Ship it' }, bearer);
    sessionId = created.body.session_id as string;
    await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content: 'exported note' },
      bearer,
    );
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator(`tr[data-session-id="${sessionId}"]`).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  const sessionStatus = async () => {
    const res = await pageFetch(`/ui/api/sessions/${sessionId}`);
    const body = JSON.parse(res.text) as { status?: string; session?: { status: string } };
    return body.session?.status ?? body.status;
  };

  it('archives a session and reopens it, and the API agrees each time', async () => {
    await page.goto(`${server.url}/ui/#/sessions/${sessionId}`);
    await page.getByRole('button', { name: 'Archive' }).click();
    await page.getByRole('button', { name: 'Reopen' }).waitFor();
    await expect.poll(() => page.locator('.badge.status-archived').count()).toBe(1);
    expect(await sessionStatus()).toBe('archived');
    await page.getByRole('button', { name: 'Reopen' }).click();
    await page.getByRole('button', { name: 'Archive' }).waitFor();
    expect(await sessionStatus()).toBe('active');
    expect(await page.getByRole('link', { name: 'Timeline' }).getAttribute('href')).toBe(
      `#/sessions/${sessionId}/timeline`,
    );
    await screenshot(page, 'session-actions');
  });

  it("exports the session's messages as JSON and Markdown from the page's links", async () => {
    const json = await page.getByRole('link', { name: 'Export JSON' }).getAttribute('href');
    const res = await pageFetch(json!);
    expect(res.status).toBe(200);
    expect(res.text).toContain('exported note');
    const parsed = JSON.parse(res.text) as unknown;
    expect(JSON.stringify(parsed)).toContain(sessionId);
    const md = await page.getByRole('link', { name: 'Export Markdown' }).getAttribute('href');
    const mdRes = await pageFetch(md!);
    expect(mdRes.status).toBe(200);
    expect(mdRes.text).toContain('exported note');
  });

  it("mails an agent as the overseer, and the agent's inbox has it from a human", async () => {
    await page.goto(`${server.url}/ui/#/agents`);
    await page.locator('tr', { hasText: 'planner-agent' }).getByRole('button', { name: 'Write' }).click();
    expect(await page.getByLabel('To (agent id)').inputValue()).toBe('planner-agent');
    await page.getByLabel('Mail', { exact: true }).fill('Please wrap up by noon.');
    await page.getByRole('button', { name: 'Send mail' }).click();
    await expect
      .poll(() => page.locator('form.overseer-mail').getByRole('status').textContent())
      .toContain('Sent to planner-agent');
    const inbox = await callHttpTool(server.url, 'get_inbox', {}, bearer);
    const mail = JSON.stringify(inbox.body);
    expect(mail).toContain('Please wrap up by noon.');
    expect(mail).toContain('"from_human":true');
    // The counts column follows the mail.
    const row = page.locator('tr', { hasText: 'planner-agent' });
    await expect.poll(() => row.textContent()).toContain('0 / 1');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'agents-actions');
  });

  it("revokes an agent's access after a confirm step: its key and its tokens end", async () => {
    const admin = { authorization: `Bearer ${await tokenFor(server, 'root', { admin: true })}` };
    const issued = await callHttpTool(
      server.url,
      'issue_agent_key',
      { agent_id: 'keyed-agent', agent_type: 'reviewer' },
      admin,
    );
    const apiKey = issued.body.api_key as string;
    const auth = () =>
      callHttpTool(server.url, 'authenticate_agent', {
        agent_id: 'keyed-agent',
        agent_type: 'reviewer',
        api_key: apiKey,
      });
    const before = await auth();
    expect(before.body.success).toBe(true);
    await callHttpTool(
      server.url,
      'register_agent',
      {},
      { authorization: `Bearer ${before.body.token as string}` },
    );
    await page.goto(`${server.url}/ui/#/agents`);
    const row = page.locator('tr', { hasText: 'keyed-agent' });
    await row.getByRole('button', { name: 'Revoke access' }).click();
    await row.getByRole('button', { name: 'Confirm revoke' }).click();
    await expect.poll(() => row.getByRole('status').textContent()).toContain('Tokens and key revoked');
    expect((await auth()).body.success).not.toBe(true);
    const old = await callHttpTool(
      server.url,
      'list_sessions',
      {},
      { authorization: `Bearer ${before.body.token as string}` },
    );
    expect(old.body.code).toBe('TOKEN_REVOKED');
    // A second revoke has no key left to end: it ends the tokens issued since.
    await row.getByRole('button', { name: 'Revoke access' }).click();
    await row.getByRole('button', { name: 'Confirm revoke' }).click();
    await expect.poll(() => row.getByRole('status').textContent()).toBe('Tokens revoked.');
  });

  it("browses an agent's memory, global and by session", async () => {
    await callHttpTool(
      server.url,
      'set_memory',
      { key: 'plan.step', value: null, value_json: '{"step":3,"done":["a"]}' },
      bearer,
    );
    await callHttpTool(
      server.url,
      'set_memory',
      { key: 'plan.session', value: 'scoped', session_id: sessionId },
      bearer,
    );
    await callHttpTool(server.url, 'set_memory', { key: 'other', value: 1 }, bearer);
    await page.goto(`${server.url}/ui/#/memory`);
    await page.getByLabel('Agent').selectOption('planner-agent');
    await page.getByLabel('Key prefix').fill('plan.');
    await page.getByRole('button', { name: 'Show entries' }).click();
    const rows = page.locator('tr[data-memory-key]');
    await expect.poll(() => rows.count()).toBe(1);
    const step = page.locator('tr[data-memory-key="plan.step"]');
    await step.getByText('Value', { exact: true }).click();
    expect(await step.locator('pre').textContent()).toContain('"step": 3');
    await page.getByLabel('Scope').selectOption('all');
    await page.getByRole('button', { name: 'Show entries' }).click();
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByLabel('Scope').selectOption('session');
    await page.getByLabel('Session id').fill(sessionId);
    await page.getByRole('button', { name: 'Show entries' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-memory-key')).toBe('plan.session');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
    await screenshot(page, 'memory');
  });
});

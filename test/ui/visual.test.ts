import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, startTestServer, tokenFor, type TestServer } from '../helpers/server.js';
import { describeViolations, launchBrowser, screenshot, seriousViolations } from './browser.js';

const PASSWORD = 'visual-test-password';

describe('the graph and timeline pages in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let sessionId: string;
  const auth: Record<string, Record<string, string>> = {};
  /** Message ids in the session, in the order written. */
  const written: number[] = [];

  const mail = async (from: string, to: string, content: string, replyTo?: number) => {
    const res = await callHttpTool(
      server.url,
      'send_message',
      { to, content, reply_to: replyTo },
      auth[from],
    );
    expect(res.status).toBe(200);
    return (res.body.message_ids as number[])[0] as number;
  };
  const say = async (from: string, content: string, parent?: number) => {
    const res = await callHttpTool(
      server.url,
      'add_message',
      { session_id: sessionId, content, parent_message_id: parent },
      auth[from],
    );
    const id = res.body.message_id as number;
    written.push(id);
    return id;
  };

  beforeAll(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD });
    const types: Record<string, string> = { alpha: 'planner', beta: 'coder', gamma: 'reviewer' };
    for (const [id, agentType] of Object.entries(types)) {
      auth[id] = { authorization: `Bearer ${await tokenFor(server, id, { agentType })}` };
    }
    const created = await callHttpTool(server.url, 'create_session', { purpose: 'Ship it' }, auth.alpha);
    sessionId = created.body.session_id as string;
    for (const id of Object.keys(types)) {
      const reg = await callHttpTool(server.url, 'register_agent', { session_id: sessionId }, auth[id]);
      expect(reg.status).toBe(200);
    }
    // alpha→beta twice (one answered), beta→alpha once as a reply, gamma→alpha once: 3 edges.
    const ask = await mail('alpha', 'beta', 'Can you build it?');
    await mail('alpha', 'beta', 'And test it.');
    await mail('beta', 'alpha', 'On it.', ask);
    await mail('gamma', 'alpha', 'Review done.');
    const plan = await say('alpha', 'The **plan**: build, test, ship.');
    await say('beta', 'Building now.', plan);
    await say('gamma', 'Looks good.', plan);
    await say('alpha', 'Shipping.');

    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('.live-open').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  it('draws who mails whom, with a table of the same edges', async () => {
    await page.getByRole('link', { name: 'Graph' }).click();
    const svg = page.locator('svg.graph');
    await svg.waitFor();
    expect(await svg.getAttribute('data-nodes')).toBe('3');
    expect(await svg.getAttribute('data-edges')).toBe('3');
    expect(await page.locator('svg.graph .graph-node').count()).toBe(3);
    expect(await page.locator('svg.graph .graph-edge').count()).toBe(3);
    const edge = page.locator('svg.graph .graph-edge[data-from="alpha"][data-to="beta"]');
    expect(await edge.getAttribute('data-mail')).toBe('2');
    expect(await edge.getAttribute('data-replies')).toBe('0');
    const back = page.locator('.graph-table tr[data-from="beta"][data-to="alpha"]');
    expect(await back.locator('[data-col="mail"]').textContent()).toBe('1');
    expect(await back.locator('[data-col="replies"]').textContent()).toBe('1');
    // Focusing a node lights its edges and dims the others.
    await page.locator('.graph-node[data-agent-id="gamma"]').focus();
    await expect.poll(() => page.locator('.graph-edge.lit').count()).toBe(1);
    expect(await page.locator('.graph-edge.dim').count()).toBe(2);
    await page.locator('.graph-node[data-agent-id="gamma"]').blur();
    // The session picker narrows to that session's agents (all three are in it).
    await page.getByLabel('Session').selectOption(sessionId);
    await expect.poll(() => svg.getAttribute('data-nodes')).toBe('3');
    await screenshot(page, 'graph');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
  });

  it('updates an edge live when an agent sends more mail', async () => {
    await mail('gamma', 'alpha', 'One more thing.');
    const cell = page.locator('.graph-table tr[data-from="gamma"][data-to="alpha"] [data-col="mail"]');
    await expect.poll(() => cell.textContent(), { timeout: 10_000 }).toBe('2');
    expect(
      await page
        .locator('svg.graph .graph-edge[data-from="gamma"][data-to="alpha"]')
        .getAttribute('data-mail'),
    ).toBe('2');
  });

  it('lays a session out as a lane per sender and a mark per message', async () => {
    await page.goto(`${server.url}/ui/#/sessions/${sessionId}/timeline`);
    const svg = page.locator('svg.timeline');
    await svg.waitFor();
    await expect.poll(() => page.locator('.timeline-mark').count()).toBe(written.length);
    expect(await svg.getAttribute('data-lanes')).toBe('3');
    expect(await page.locator('.timeline-lane').count()).toBe(3);
    expect(await page.locator('.timeline-mark[data-sender="alpha"]').count()).toBe(2);
    // Both replies have their parent loaded: two connectors.
    expect(await page.locator('.timeline-replies line').count()).toBe(2);
    // Keyboard: the marks are one tab stop; Enter shows a message, the right arrow the next in time.
    // (The live test below activates a mark with the mouse.)
    const first = page.locator(`.timeline-mark[data-message-id="${written[0]}"]`);
    await first.focus();
    await page.keyboard.press('Enter');
    const panel = page.locator('.timeline-panel');
    await expect.poll(() => panel.locator('.content strong').textContent()).toBe('plan');
    expect(await panel.locator('h2').textContent()).toContain('from alpha');
    expect(await first.getAttribute('tabindex')).toBe('0');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => panel.locator('h2').textContent()).toContain(`Message ${written[1]}`);
    expect(await page.getByRole('link', { name: 'Back to the session' }).getAttribute('href')).toBe(
      `#/sessions/${sessionId}`,
    );
  });

  it('adds a mark live when an agent writes', async () => {
    await page.locator('.live-open').waitFor();
    const id = await say('beta', 'Shipped *live*.');
    const mark = page.locator(`.timeline-mark[data-message-id="${id}"]`);
    await mark.waitFor();
    expect(await page.locator('.timeline-mark').count()).toBe(written.length);
    await mark.click();
    await expect.poll(() => page.locator('.timeline-panel .content').textContent()).toContain('Shipped live');
    await screenshot(page, 'timeline');
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);
  });

  it('zooms and pans the time range; marks written moments apart come apart', async () => {
    const svg = page.locator('svg.timeline');
    const range = async () => {
      const start = Number(await svg.getAttribute('data-start'));
      return { start, span: Number(await svg.getAttribute('data-end')) - start };
    };
    const centre = (id: number) =>
      page.locator(`.timeline-mark[data-message-id="${id}"]`).evaluate((el) => {
        const r = el.getBoundingClientRect();
        return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
      });
    await page.keyboard.press('0');
    const whole = await range();
    // The whole session: no two marks cover each other (close ones are spread across the lane).
    const all = await page
      .locator('.timeline-mark')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => [r.x, r.y]));
    for (const [i, a] of all.entries()) {
      for (const b of all.slice(i + 1)) {
        expect(Math.hypot((a[0] ?? 0) - (b[0] ?? 0), (a[1] ?? 0) - (b[1] ?? 0))).toBeGreaterThanOrEqual(12);
      }
    }
    // The leftmost mark takes a mouse click (the SVG is measured before it is first drawn).
    await page.locator(`.timeline-mark[data-message-id="${written[0]}"]`).click();
    await expect
      .poll(() => page.locator('.timeline-panel h2').textContent())
      .toContain(`Message ${written[0]}`);

    await page.getByRole('button', { name: 'Zoom in' }).click();
    await expect.poll(async () => (await range()).span).toBeCloseTo(whole.span / 2, -1);
    expect(await page.locator('.timeline-range').textContent()).toMatch(/^Zoomed to /);
    // From the selected mark: + zooms around it, until alpha's first and last marks are apart.
    await page.locator(`.timeline-mark[data-message-id="${written[0]}"]`).focus();
    let apart = 0;
    for (let i = 0; i < 12 && apart < 13; i++) {
      const before = (await range()).span;
      await page.keyboard.press('+');
      await expect.poll(async () => (await range()).span).toBeLessThan(before);
      apart = (await centre(written[3] ?? 0)).x - (await centre(written[0] ?? 0)).x;
    }
    expect(apart).toBeGreaterThanOrEqual(13);
    const zoomed = await range();
    await screenshot(page, 'timeline-zoomed');
    expect(zoomed.span).toBeLessThan(whole.span / 2);
    // Shift+arrow pans by a quarter of the range, a drag by the distance dragged; the span stays.
    await page.keyboard.press('Shift+ArrowRight');
    await expect.poll(async () => (await range()).start).toBeGreaterThan(zoomed.start);
    const panned = await range();
    expect(panned.span).toBeCloseTo(zoomed.span, -1);
    const box = (await svg.boundingBox())!;
    await page.mouse.move(box.x + box.width - 40, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width - 140, box.y + 20, { steps: 4 });
    await page.mouse.up();
    await expect.poll(async () => (await range()).start).toBeGreaterThan(panned.start);
    // - zooms back out; Fit shows the whole session again.
    await page.getByRole('button', { name: 'Zoom out' }).click();
    await expect.poll(async () => (await range()).span).toBeGreaterThan(zoomed.span);
    await page.getByRole('button', { name: 'Fit' }).click();
    await expect.poll(range).toEqual(whole);
    expect(await page.locator('.timeline-range').textContent()).toMatch(/^Whole session: /);
  });
});

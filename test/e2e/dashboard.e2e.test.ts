import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimReply, Step } from '../../src/protocol/index.ts';
import { makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import {
  am,
  api,
  killAll,
  ROOT,
  type ServerProc,
  startServer,
  submitGraph,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results', 'dashboard');
/** Runs `expression` in the page; a string, as this file is type-checked without the DOM's types. */
const inPage = <T = unknown>(page: Page, expression: string): Promise<T> => page.evaluate<T>(expression);
/** A cancel request made by the page's own script (its cookie goes with it): the status it got. */
const cancelFetch = (graphId: string, headers: Record<string, string>) =>
  `fetch('/v1/graphs/${graphId}/cancel', { method: 'POST', headers: ${JSON.stringify(headers)} }).then((r) => r.status)`;
const MARKUP = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) against a real `am server`
 * process: login, live node statuses from the SSE trail, the audit report of a reworked graph (a real
 * `am worker`), untrusted output shown as text, a worker session's limits, and the headers.
 */
describe('the dashboard in a browser', () => {
  let nats: TestNats;
  let server: ServerProc;
  let dir: string;
  let browser: Browser;
  let workerToken: string;
  const contexts: BrowserContext[] = [];

  /** A worker driven from the test over HTTP, on tasks of one capability (so it takes nothing else). */
  const claim = async (capability: string): Promise<ClaimReply> => {
    const reply = await api<ClaimReply>(server.url, workerToken, 'POST', '/v1/tasks/claim', {
      requestId: randomUUID(),
      capabilities: [capability],
      waitMs: 10_000,
    });
    expect(reply.status).toBe(200);
    return reply.body;
  };
  const progress = async (claimed: ClaimReply, step: Step) => {
    const { task } = claimed;
    const reply = await api(server.url, workerToken, 'POST', `/v1/tasks/${task.id}/progress`, {
      graphId: task.graphId,
      claimToken: claimed.claimToken,
      step,
    });
    expect(reply.status).toBe(202);
  };
  const complete = async (claimed: ClaimReply, output: string, history: Step[] = []) => {
    const { task } = claimed;
    const reply = await api(server.url, workerToken, 'POST', '/v1/results', {
      graphId: task.graphId,
      taskId: task.id,
      claimToken: claimed.claimToken,
      status: 'completed',
      output,
      history: [...history, { thought: 'Done.', action: { type: 'final', answer: output } }],
    });
    expect(reply.status).toBe(202);
  };
  /** An explicit graph whose tasks and synthesis only `capability` claimers get. */
  const submitFor = (capability: string, goal: string, tasks: Array<Record<string, unknown>>) =>
    submitGraph(server, {
      goal,
      tasks: tasks.map((task) => ({ ...task, capability })),
      options: { synthesisCapability: capability },
    });

  /** Messages of CSP violations, by page. */
  const violations = new Map<Page, string[]>();
  const newPage = async (): Promise<Page> => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const seen: string[] = [];
    violations.set(page, seen);
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) seen.push(message.text());
    });
    return page;
  };
  const login = async (page: Page, token: string) => {
    await page.goto(server.url);
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#whoami:not([hidden])');
  };
  const screenshot = async (page: Page, name: string) => {
    const path = join(SHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`dashboard screenshot: ${path}`);
  };
  const node = (page: Page, taskId: string, status: string) =>
    page.waitForSelector(`#dag .node[data-task-id="${taskId}"][data-status="${status}"]`, {
      timeout: 20_000,
    });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no browser at ${CHROMIUM}: install chromium (apt-get install chromium) to run this test`,
      );
    }
    mkdirSync(SHOTS, { recursive: true });
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-dashboard');
    server = await startServer({ natsUrl: nats.url, dir });
    const registered = await api<{ token: string }>(server.url, server.adminToken, 'POST', '/v1/agents', {
      agentId: 'dash-http-worker',
      role: 'worker',
    });
    expect(registered.status).toBe(201);
    workerToken = registered.body.token;
    // Chromium refuses to run its sandbox as root (CI containers).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await killAll();
    await nats?.cleanup();
  });

  it('answers a request without a cookie or a token with 401, and serves the page with a strict CSP', async () => {
    const refused = await fetch(`${server.url}/v1/graphs`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('AM_ERR_AUTH_MISSING');
    const page = await newPage();
    const weights = new Map<string, number>();
    page.on('response', async (response) => {
      const url = new URL(response.url());
      if (url.pathname === '/' || /^\/dashboard\/.+\.(js|css)$/.test(url.pathname)) {
        weights.set(url.pathname, (await response.body()).length);
      }
    });
    const response = await page.goto(server.url);
    const headers = response!.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).toContain("object-src 'none'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).toContain("base-uri 'none'");
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['referrer-policy']).toBe('no-referrer');
    await page.waitForSelector('#login-form');
    await page.waitForLoadState('networkidle');
    const bytes = [...weights.values()].reduce((sum, n) => sum + n, 0);
    console.log(`dashboard page weight: ${(bytes / 1024).toFixed(1)} KB in ${weights.size} files`);
    expect(weights.has('/dashboard/vendor/dagre.js')).toBe(true);
    await screenshot(page, 'login');
  });

  it('opens /docs (Swagger UI) with the session cookie, under a CSP without inline script, with no violation', async () => {
    const page = await newPage();
    await login(page, server.adminToken);
    const response = await page.goto(`${server.url}/docs`);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.swagger-ui .info .title');
    await page.waitForSelector('.swagger-ui .opblock');
    expect(await page.locator('.swagger-ui .opblock').count()).toBeGreaterThan(10);
    await page.waitForLoadState('networkidle');
    expect(violations.get(page)).toEqual([]);
    await screenshot(page, 'docs');
  });

  it('logs in with a token, opens a running graph and sees its nodes turn COMPLETED without a reload', async () => {
    const page = await newPage();
    await login(page, server.adminToken);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'am_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });

    const { graphId } = await submitFor('live', 'Compare three sorting algorithms live', [
      { id: 'gather', title: 'Gather sorting algorithms', instructions: 'List sorting algorithms.' },
      { id: 'bench', title: 'Benchmark sorting', instructions: 'Benchmark them.', dependsOn: ['gather'] },
      { id: 'explain', title: 'Explain sorting', instructions: 'Explain them.', dependsOn: ['gather'] },
    ]);
    await page.click(`#graphs tr[data-graph-id="${graphId}"] a`);
    await node(page, 'gather', 'READY');
    await node(page, 'bench', 'PENDING');
    expect(await page.isVisible('#cancel-graph')).toBe(true);
    const origin = await inPage<number>(page, '(window.__samePage = true) && performance.timeOrigin');

    const started = Date.now();
    const gather = await claim('live');
    await node(page, 'gather', 'CLAIMED');
    // The task panel (a click on the node changes the hash only) shows a ReAct step as soon as it is reported.
    await page.click('#dag .node[data-task-id="gather"]');
    await page.waitForSelector('.task[data-task-id="gather"]');
    const url = page.url();
    const search: Step = {
      thought: 'I list what I know.',
      action: { type: 'tool', name: 'search', input: { q: 'sorting algorithms' } },
      observation: 'quicksort, mergesort, heapsort',
    };
    await progress(gather, search);
    await page.waitForSelector('.task ol.steps li.step >> text=quicksort, mergesort, heapsort');
    await complete(gather, 'Gather sorting algorithms: quicksort, mergesort, heapsort.', [search]);
    await node(page, 'gather', 'COMPLETED');
    await node(page, 'bench', 'READY');
    for (let i = 0; i < 2; i++) {
      const next = await claim('live');
      await complete(next, `${next.task.title}: done for quicksort, mergesort and heapsort.`);
    }
    await node(page, 'bench', 'COMPLETED');
    await node(page, 'explain', 'COMPLETED');
    // The manager's offline audit passes; the synthesis task is offered to the same capability.
    await node(page, '_synthesis', 'READY');
    const synthesis = await claim('live');
    expect(synthesis.task.kind).toBe('synthesis');
    await complete(synthesis, 'Sorting algorithms compared: quicksort, mergesort, heapsort.');
    await node(page, '_synthesis', 'COMPLETED');
    await page.waitForSelector('#graph-status[data-status="SUCCEEDED"]', { timeout: 20_000 });
    console.log(`dashboard: a graph followed live to SUCCEEDED in ${Date.now() - started} ms`);

    // The same document all along: no reload, no navigation.
    expect(await inPage(page, '[window.__samePage, performance.timeOrigin]')).toEqual([true, origin]);
    expect(page.url()).toBe(url);
    expect(violations.get(page)).toEqual([]);
    expect(await page.isVisible('#cancel-graph')).toBe(false);
    // The task's output, its steps from the result, and the claim it took.
    expect(await page.textContent('.task pre.output')).toBe(
      'Gather sorting algorithms: quicksort, mergesort, heapsort.',
    );
    expect(await page.locator('.task ol.steps li.step').count()).toBe(2);
    expect(await page.textContent('.task table.attempts')).toContain('dash-http-worker');
    await screenshot(page, 'graph-live');
    await page.click('.tabs a[data-tab="overview"]');
    await page.waitForSelector('.overview');
    await screenshot(page, 'graph-overview');
    await page.click('.tabs a[data-tab="timeline"]');
    await page.waitForSelector('#timeline tr[data-type="GraphSucceeded"]');
    await screenshot(page, 'timeline');
  });

  it('renders untrusted output, goals and thoughts as text: nothing runs, no element is made', async () => {
    const page = await newPage();
    await login(page, server.adminToken);
    const { graphId } = await submitFor('markup', `Escape markup ${MARKUP}`, [
      { id: 'escape', title: 'Escape markup', instructions: 'Return markup as text.' },
    ]);
    const task = await claim('markup');
    await complete(task, `Escape markup: ${MARKUP}`, [
      {
        thought: `Thinking <b id="injected">bold</b> ${MARKUP}`,
        action: { type: 'tool', name: 'echo', input: { html: MARKUP } },
        observation: MARKUP,
      },
    ]);
    await waitForGraph(server, graphId, (g) =>
      g.tasks.some((t) => t.id === 'escape' && t.status === 'COMPLETED'),
    );
    await page.goto(`${server.url}/#/graphs/${graphId}/tasks/escape`);
    await page.waitForSelector('.task pre.output');
    expect(await page.textContent('.task pre.output')).toBe(`Escape markup: ${MARKUP}`);
    expect(await page.textContent('.task ol.steps')).toContain('Thinking <b id="injected">bold</b>');
    await screenshot(page, 'untrusted-output');
    await page.click('.tabs a[data-tab="overview"]');
    await page.waitForSelector('.overview pre.text');
    expect(await page.textContent('.graph-head h1')).toBe(`Escape markup ${MARKUP}`);
    await page.goto(`${server.url}/#/graphs`);
    await page.waitForSelector(`#graphs tr[data-graph-id="${graphId}"]`);
    expect(await page.textContent(`#graphs tr[data-graph-id="${graphId}"] td.goal`)).toBe(
      `Escape markup ${MARKUP}`,
    );
    expect(
      await inPage(
        page,
        `({
          pwned: window.__pwned ?? null,
          images: document.querySelectorAll('img').length,
          scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
          injected: document.getElementById('injected') === null,
        })`,
      ),
    ).toEqual({ pwned: null, images: 0, scripts: ['/dashboard/app.js'], injected: true });
    await screenshot(page, 'untrusted-goal');
  });

  it('gives a worker session no cancel button, and its cancel request gets 403; an admin cancels from the page', async () => {
    const { graphId } = await submitFor('nobody', 'A graph nobody works on', [
      { id: 'idle', title: 'Idle', instructions: 'Wait.' },
    ]);
    const workerPage = await newPage();
    await login(workerPage, workerToken);
    expect(await workerPage.textContent('#whoami')).toBe('dash-http-worker (worker)');
    await workerPage.goto(`${server.url}/#/graphs/${graphId}`);
    await node(workerPage, 'idle', 'READY');
    expect(await workerPage.locator('#cancel-graph').count()).toBe(0);
    const status = await inPage(workerPage, cancelFetch(graphId, { 'x-am-csrf': '1' }));
    expect(status).toBe(403);
    // Without the CSRF header even an admin's cookie cannot change state.
    const adminPage = await newPage();
    await login(adminPage, server.adminToken);
    await adminPage.goto(`${server.url}/#/graphs/${graphId}`);
    await node(adminPage, 'idle', 'READY');
    const forged = await inPage(adminPage, cancelFetch(graphId, {}));
    expect(forged).toBe(403);
    adminPage.once('dialog', (dialog) => void dialog.accept());
    await adminPage.click('#cancel-graph');
    await adminPage.waitForSelector('#graph-status[data-status="CANCELLED"]');
    await node(workerPage, 'idle', 'CANCELLED');
    await screenshot(workerPage, 'worker-session');
  });

  it('is in the package: npm pack holds every file of src/dashboard under dist/dashboard', async () => {
    // npm's own variables (from `npm test`) would point npm at another prefix.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    const [pack] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    const packed = pack!.files.map((file) => file.path);
    const sources = readdirSync(join(ROOT, 'src/dashboard'), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(join(ROOT, 'src').length + 1));
    expect(sources).toContain('dashboard/index.html');
    expect(packed).toEqual(expect.arrayContaining(sources.map((path) => `dist/${path}`)));
  });

  it('shows the audit report of a reworked graph with its rework suggestions', async () => {
    const config = await workerConfig(server, dir, 'dash-am-worker');
    const worker = am(['worker', '--config', config], { AM_LLM_PROVIDER: 'offline' });
    const { graphId } = await submitGraph(server, { goal: 'Assess solar panels for a school [[BAD-ONCE]]' });
    const graph = await waitForGraph(server, graphId, (g) => g.graph.status === 'SUCCEEDED');
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(graph.audits.map((audit) => audit.passed)).toEqual([false, true]);
    const page = await newPage();
    await login(page, server.adminToken);
    await page.goto(`${server.url}/#/graphs/${graphId}/audits`);
    // A locator, not an element handle: it finds the row again if the panel was drawn anew meanwhile.
    const suggestion = page.locator(
      '.audit[data-audit-cycle="1"][data-passed="false"] .rework-suggestion[data-task-id="research-1"]',
    );
    await suggestion.waitFor({ state: 'visible' });
    expect(await suggestion.textContent()).toContain(
      graph.audits[0]!.report.rework_suggestions[0]!.suggestion,
    );
    expect(await page.isVisible('.audit[data-audit-cycle="2"][data-passed="true"]')).toBe(true);
    await screenshot(page, 'audits');
    await page.goto(`${server.url}/#/agents`);
    await page.waitForSelector('#agents tr[data-agent-id="dash-am-worker"] button.revoke');
    await page.goto(`${server.url}/#/health`);
    await page.waitForSelector('#health .badge[data-ready="true"]');
    await screenshot(page, 'health');
  });
});

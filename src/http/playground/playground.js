// The playground page's own script (plain browser JavaScript, no build step): GraphiQL plus
// token handling. The page's CSP allows only same-origin scripts, so this file cannot be inline.
//
// Contract with the gateway: every operation is a same-origin POST with content-type
// application/json (Apollo's CSRF prevention) and `X-Refresh-Transport: cookie`, so the
// refresh token is set only as the HttpOnly cookie and never appears in a response body. The
// access token lives in this closure only: not in storage, not in the headers editor.
'use strict';

(function () {
  const { GraphiQL, React, ReactDOM } = window;
  // graphql-js as bundled with GraphiQL (a schema built by another copy would not be accepted).
  const GraphQL = GraphiQL.GraphQL;
  // The page is served at the GraphQL endpoint itself.
  const ENDPOINT = window.location.pathname;
  const asset = (name) => new URL('playground/' + name, document.baseURI).href;
  // Refresh this long before expiry (or a fifth of the remaining life, if that is shorter).
  const REFRESH_LEAD_MS = 60000;
  const RETRY_MS = 5000;
  // A refresh refused with INVALID_TOKEN is tried once more after this long: another tab's
  // refresh may just have replaced the cookie (the gateway's grace keeps the session alive then),
  // and the browser will send that successor.
  const SUPERSEDED_RETRY_MS = 500;

  // Example values for the examples' variables; each tab gets the ones its operation declares.
  const EXAMPLE_VALUES = {
    email: 'ada@example.com',
    password: 'Analytical-Engine-1843',
    mfaToken: 'paste the mfaToken from Login',
    code: '123456',
  };
  const REFRESH = 'mutation PlaygroundRefresh { refresh { accessToken expiresIn user { email roles } } }';
  const VIEWER = 'query PlaygroundViewer { me { email roles } }';
  const LOGOUT = 'mutation PlaygroundLogout { logout }';

  const el = (id) => document.getElementById(id);
  const status = el('session-status');
  const signOut = el('sign-out');
  const qrPanel = el('qr-panel');
  const qrImage = el('qr-image');
  const qrSecret = el('qr-secret');

  /** { accessToken, expiresAt (ms, this browser's clock), email, roles } or null. */
  let session = null;
  let refreshTimer;

  /** Operations whose answer sets or clears the refresh cookie. */
  const COOKIE_FIELDS = new Set(['login', 'verifyMfa', 'refresh', 'logout', 'logoutAll']);
  /** What the browser lets keepalive requests carry at once (64 KiB), with room to spare. */
  const KEEPALIVE_BYTES = 60000;

  async function post(body, extraHeaders) {
    const headers = new Headers({ 'content-type': 'application/json' });
    if (session) headers.set('authorization', 'Bearer ' + session.accessToken);
    // What the headers editor says wins (set() replaces case-insensitively), except that the
    // refresh token stays out of the page whatever is typed there.
    for (const [name, value] of Object.entries(extraHeaders || {})) headers.set(name, String(value));
    headers.set('x-refresh-transport', 'cookie');
    const json = JSON.stringify(body);
    // The browser finishes such a request, and keeps the cookie it sets, even when the page goes
    // away meanwhile (a reload, a tab closed, a navigation another site started): otherwise the
    // token it spent stays in the cookie, and presenting it again ends the session as a reuse.
    const keepalive =
      new TextEncoder().encode(json).length < KEEPALIVE_BYTES && topLevelFields(body).some((field) => COOKIE_FIELDS.has(field.name));
    const response = await fetch(ENDPOINT, { method: 'POST', credentials: 'same-origin', headers, body: json, keepalive });
    return response.json();
  }

  function operationsOf(query) {
    try {
      return GraphQL.parse(query).definitions.filter((d) => d.kind === 'OperationDefinition');
    } catch {
      return [];
    }
  }

  /** The operation that runs: the named one, or the only one. */
  function operationOf(params) {
    const operations = operationsOf(params.query);
    if (!params.operationName) return operations.length === 1 ? operations[0] : undefined;
    return operations.find((o) => o.name && o.name.value === params.operationName);
  }

  /** The fields of a selection set, inline fragments' included: [{ name, key, selection }] (key: the alias, if any). */
  function fieldsOf(selectionSet) {
    const fields = [];
    for (const s of selectionSet ? selectionSet.selections : []) {
      if (s.kind === 'Field') fields.push({ name: s.name.value, key: (s.alias || s.name).value, selection: s });
      else if (s.kind === 'InlineFragment') fields.push(...fieldsOf(s.selectionSet));
    }
    return fields;
  }

  /** The top-level fields of the operation that ran. */
  function topLevelFields(params) {
    const operation = operationOf(params);
    return operation ? fieldsOf(operation.selectionSet) : [];
  }

  /**
   * An enrolment's QR code and secret, under whatever alias the operation gave them (by their
   * own names when the selection does not say, as through a named fragment).
   */
  function enrolment(selection, value) {
    const fields = fieldsOf(selection.selectionSet);
    const valueOf = (name) => {
      const field = fields.find((f) => f.name === name);
      return field ? value[field.key] : value[name];
    };
    const qrCodeSvg = valueOf('qrCodeSvg');
    return typeof qrCodeSvg === 'string' ? { qrCodeSvg, secret: valueOf('secret') } : null;
  }

  /**
   * Looks at what an operation returned: tokens to keep, a second step to take, a session that
   * ended, a QR code to show or to take away (once the factor is confirmed or disabled, or the session ends, nobody should
   * be able to scan its secret off the screen).
   */
  function observe(params, result) {
    const data = result && result.data;
    if (!data) return;
    for (const { name, key, selection } of topLevelFields(params)) {
      const value = data[key];
      if (value == null) continue;
      const enrolled = name === 'enrollMfa' ? enrolment(selection, value) : null;
      if ((name === 'login' || name === 'verifyMfa' || name === 'refresh') && typeof value.accessToken === 'string') {
        void adopt(value);
      } else if (name === 'login' && typeof value.mfaToken === 'string' && !session) {
        render("Second step: put this mfaToken in VerifyMfa's variables, with a code from your authenticator app, and run it.");
      } else if (name === 'logout' || name === 'logoutAll') {
        forget('Signed out.');
      } else if (enrolled) {
        showQr(enrolled.qrCodeSvg, enrolled.secret);
      } else if (name === 'confirmMfa' || (name === 'disableMfa' && value === true)) {
        hideQr();
      }
    }
  }

  function claimsOf(jwt) {
    try {
      const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part));
    } catch {
      return {};
    }
  }

  async function adopt(payload) {
    const claims = claimsOf(payload.accessToken);
    const lifetime = typeof payload.expiresIn === 'number' ? payload.expiresIn * 1000 : (claims.exp || 0) * 1000 - Date.now();
    const user = payload.user || {};
    session = {
      accessToken: payload.accessToken,
      expiresAt: Date.now() + lifetime,
      email: user.email,
      roles: user.roles || claims.roles || [],
    };
    if (!session.email) {
      const me = await post({ query: VIEWER, operationName: 'PlaygroundViewer' }).catch(() => null);
      if (me && me.data && me.data.me && session) Object.assign(session, me.data.me);
    }
    schedule();
    render();
  }

  function forget(message) {
    session = null;
    hideQr();
    clearTimeout(refreshTimer);
    render(message);
  }

  function schedule() {
    clearTimeout(refreshTimer);
    if (!session) return;
    const remaining = session.expiresAt - Date.now();
    const lead = Math.min(REFRESH_LEAD_MS, remaining / 5);
    refreshTimer = setTimeout(refreshNow, Math.max(0, remaining - lead));
  }

  /**
   * Through the cookie. `quiet`: at page load, where having no cookie is normal. `retried`: this
   * is the second try after an INVALID_TOKEN, whose refusal stands.
   */
  async function refreshNow(quiet, retried) {
    let result;
    try {
      result = await post({ query: REFRESH, operationName: 'PlaygroundRefresh' });
    } catch {
      // The gateway is unreachable: try again while the token still lives.
      if (session && session.expiresAt > Date.now() + RETRY_MS) refreshTimer = setTimeout(refreshNow, RETRY_MS);
      else forget('Signed out: the gateway could not be reached to refresh.');
      return;
    }
    const payload = result && result.data && result.data.refresh;
    if (payload) await adopt(payload);
    // On refreshTimer, so that a login or a sign-out meanwhile cancels it. Not at page load
    // (quiet), where the usual reason is no cookie at all: every visit would ask twice.
    else if (quiet !== true && retried !== true && codeOf(result) === 'INVALID_TOKEN') {
      refreshTimer = setTimeout(() => refreshNow(quiet, true), SUPERSEDED_RETRY_MS);
    }
    else if (quiet === true) render();
    else forget('Signed out: the session ended. Run Login again.');
  }

  function codeOf(result) {
    const error = result && result.errors && result.errors[0];
    return error && error.extensions ? error.extensions.code : undefined;
  }

  function render(message) {
    signOut.hidden = !session;
    if (session) el('resume').hidden = true; // signed in meanwhile (Login), nothing to continue
    status.replaceChildren();
    if (!session) {
      status.textContent = message || 'Not signed in: run Register, then Login, below.';
      return;
    }
    const expiry = new Date(session.expiresAt).toLocaleTimeString();
    const part = (id, text) => {
      const span = document.createElement('span');
      span.id = id;
      span.textContent = text;
      return span;
    };
    status.append(
      'Signed in as ',
      part('session-email', session.email || '(unknown)'),
      ' · roles: ',
      part('session-roles', session.roles.join(', ') || 'none'),
      ' · access token expires ',
      part('session-expiry', expiry),
      ' (refreshed automatically)',
    );
  }

  /** As a picture: an <img> never runs what an SVG might carry, unlike markup put into the page. */
  function showQr(svg, secret) {
    qrImage.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
    qrSecret.textContent = typeof secret === 'string' ? secret : '(not selected)';
    qrPanel.hidden = false;
  }

  function hideQr() {
    qrPanel.hidden = true;
    qrImage.removeAttribute('src');
    qrSecret.textContent = '';
  }

  const SHOWN_ABOVE = '(shown above the editor, in the QR panel)';

  /**
   * What GraphiQL shows of an answer. An enrolment shown in the QR panel leaves its strings
   * (secret, otpauthUri, qrCodeSvg: each carries the secret, whatever alias they go by) out of the
   * result pane: that pane keeps a tab's last answer after the panel has gone (ConfirmMfa, sign-out).
   */
  function shown(params, result) {
    const data = result && result.data;
    if (!data) return result;
    let copy;
    for (const { name, key, selection } of topLevelFields(params)) {
      const value = data[key];
      if (name !== 'enrollMfa' || value == null || !enrolment(selection, value)) continue;
      copy = copy || { ...result, data: { ...data } };
      copy.data[key] = Object.fromEntries(
        Object.entries(value).map(([field, v]) => [field, typeof v === 'string' && field !== '__typename' ? SHOWN_ABOVE : v]),
      );
    }
    return copy || result;
  }

  signOut.addEventListener('click', async () => {
    signOut.disabled = true;
    try {
      await post({ query: LOGOUT, operationName: 'PlaygroundLogout' });
      forget('Signed out.');
    } catch {
      render('Sign-out failed: the gateway could not be reached.');
    } finally {
      signOut.disabled = false;
    }
  });
  el('qr-close').addEventListener('click', hideQr);

  async function fetcher(params, options) {
    // GraphiQL 4 keeps a tab's operation name after its text is replaced by one anonymous
    // operation, which the gateway would refuse ("Unknown operation named …").
    if (params.operationName && !operationOf(params) && operationsOf(params.query).length === 1) {
      params = { ...params, operationName: undefined };
    }
    const result = await post(params, options && options.headers);
    observe(params, result);
    return shown(params, result);
  }

  async function text(name) {
    const response = await fetch(asset(name), { credentials: 'same-origin' });
    if (!response.ok) throw new Error(name + ': HTTP ' + response.status);
    return response.text();
  }

  /**
   * One tab per example operation (its comments included): with a single operation in the editor
   * the Run button runs it. (With several it becomes a menu, and GraphiQL's menus and dialogs try
   * to add a scroll-lock <style>, which the CSP refuses: harmless, but reported in the console.)
   */
  function exampleTabs(text) {
    const tabs = [];
    let comments = '';
    for (const block of text.trim().split(/\n{2,}/)) {
      if (!/^(query|mutation)\b/m.test(block)) {
        comments += block + '\n\n';
        continue;
      }
      const variables = {};
      for (const [, name] of block.matchAll(/\$(\w+)\s*:/g)) variables[name] = EXAMPLE_VALUES[name] ?? '';
      tabs.push({ query: comments + block + '\n', variables: Object.keys(variables).length ? JSON.stringify(variables, null, 2) : '' });
      comments = '';
    }
    return tabs;
  }

  async function start() {
    const [sdl, examples] = await Promise.all([text('schema.graphql'), text('examples.graphql')]);
    // GraphiQL keeps tabs and history (variables with passwords, typed headers with tokens) in
    // the storage it is given: here only in memory, so none of it reaches the browser's storage
    // or disk. A reload starts again from the examples.
    const memory = new Map();
    const storage = {
      getItem: (key) => (memory.has(key) ? memory.get(key) : null),
      setItem: (key, value) => void memory.set(key, String(value)),
      removeItem: (key) => void memory.delete(key),
      clear: () => memory.clear(),
      key: (index) => [...memory.keys()][index] ?? null,
      get length() {
        return memory.size;
      },
    };
    // (GraphiQL 4 fills the first tab's variables editor from the `variables` prop only.)
    const tabs = exampleTabs(examples);
    const first = { defaultTabs: tabs, variables: tabs[0].variables };
    ReactDOM.createRoot(el('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        // From the gateway's schema.graphql: works where introspection is off (production).
        schema: GraphQL.buildSchema(sdl),
        storage,
        defaultEditorToolsVisibility: 'variables',
        ...first,
      }),
    );
    // A cookie from an earlier visit signs this page in again; not when another site opened it,
    // until the user asks.
    if (document.body.dataset.openedFrom === 'another-site') {
      render('Not signed in: another site opened this page, so it did not use your earlier sign-in.');
      const resume = el('resume');
      resume.hidden = false;
      resume.addEventListener('click', async () => {
        resume.hidden = true;
        await refreshNow(true);
      });
      return;
    }
    render();
    await refreshNow(true);
  }

  start().catch((error) => {
    status.textContent = 'The playground could not start: ' + error.message;
  });
})();

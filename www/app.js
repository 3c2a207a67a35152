/*
 * mamori admin web UI (docs/webui.md).  Plain JavaScript, no framework, no
 * inline script (the Content-Security-Policy forbids it).  Every string that
 * came from outside (logins, reasons, subjects, addresses) reaches the page
 * through textContent (el() below), never innerHTML.  State-changing
 * requests carry the session's CSRF token in X-Mamori-CSRF.
 */
'use strict';

const ui = { csrf: '', actor: '', lang: 'en', cat: {}, charts: [], pending: [] };

/* ---------------------------------------------------------------- helpers */

/* The catalogue's text for key in the current language (the key if none). */
function t(key) {
  const c = ui.cat[ui.lang] || {};
  const e = ui.cat.en || {};
  return c[key] || e[key] || key;
}

/* A new element: attrs set as properties or attributes, children appended
 * (strings as text nodes, so markup in them is shown, not parsed). */
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') n.textContent = v;
    else if (k === 'class') n.className = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    n.appendChild(typeof k === 'string' || typeof k === 'number' ?
      document.createTextNode(String(k)) : k);
  }
  return n;
}

function fmtTime(s) {
  if (!s) return '—';
  const d = new Date(s * 1000);
  return d.toLocaleString(ui.lang === 'ja' ? 'ja-JP' : 'en-GB');
}

function flash(msg, err) {
  const f = document.getElementById('flash');
  f.replaceChildren(el('div', { class: err ? 'msg err' : 'msg', text: msg }));
}

/* One API call; resolves to the parsed JSON, rejects with Error(text). */
async function api(method, path, body) {
  const opt = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') {
    opt.headers['X-Mamori-CSRF'] = ui.csrf;
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opt);
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (r.status === 401) { showLogin(); }
  if (!r.ok) {
    const e = new Error((j && j.error) || (r.status + ' ' + r.statusText));
    e.status = r.status;
    throw e;
  }
  return j;
}

const enc = encodeURIComponent;

function stateBadge(s) {
  return el('span', { class: 'state ' + s, text: t('state.' + s) });
}

function table(heads, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, heads.map(h => el('th', { text: t(h) })))),
    el('tbody', {}, rows));
}

function td(v, cls) { return el('td', { class: cls, text: v === undefined || v === null ? '' : String(v) }); }

/* A definition list of an object's members (nested objects flattened). */
function kv(obj, prefix) {
  const dl = el('dl', { class: 'kv' });
  const add = (k, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) add(k + '.' + k2, v2);
      return;
    }
    const val = Array.isArray(v) ?
      v.map(x => typeof x === 'object' ? JSON.stringify(x) : String(x)).join(', ') :
      String(v);
    dl.append(el('dt', { text: k }), el('dd', { text: val }));
  };
  for (const [k, v] of Object.entries(obj || {})) add(prefix ? prefix + k : k, v);
  return dl;
}

function page(...kids) {
  /* The charts of the page shown so far go; those made for this one stay. */
  for (const c of ui.charts) c.destroy();
  ui.charts = ui.pending;
  ui.pending = [];
  document.getElementById('page').replaceChildren(
    ...kids.flat(Infinity).filter(k => k !== null && k !== undefined && k !== false));
}

/* A line chart of series (name -> numbers) or, without Chart.js, a table. */
function chart(title, labels, series) {
  const box = el('div', { class: 'chart' }, el('h2', { text: title }));
  if (window.Chart) {
    const c = el('canvas', { 'aria-label': title });
    box.append(el('div', { class: 'canvas' }, c));
    const colors = ['#1f5fbf', '#a15c00', '#b3261e', '#6a1b9a', '#1e7b34', '#555'];
    ui.pending.push(new window.Chart(c, {
      type: 'line',
      data: { labels, datasets: Object.entries(series).map(([k, v], i) => ({
        label: t('series.' + k), data: v, borderColor: colors[i % colors.length],
        backgroundColor: colors[i % colors.length], pointRadius: 0, tension: 0.2 })) },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    }));
  } else {
    box.append(table(['series', 'total'], Object.entries(series).map(([k, v]) =>
      el('tr', {}, td(t('series.' + k)), td(v.reduce((a, b) => a + b, 0), 'num')))));
  }
  return box;
}

/* ---------------------------------------------------------------- pages */

async function pageOverview(range) {
  range = range || 'hour';
  const [s, h] = await Promise.all([api('GET', '/v1/stats'),
    api('GET', '/v1/stats/history?range=' + enc(range))]);
  const card = (n, l) => el('div', { class: 'card' }, el('div', { class: 'n', text: String(n) }),
    el('div', { class: 'l', text: t(l) }));
  const labels = [];
  for (let i = 0; i < h.buckets; i++) {
    const d = new Date((h.start + i * h.step) * 1000);
    labels.push(range === 'week' ? (d.getMonth() + 1) + '/' + d.getDate() + ' ' + d.getHours() + 'h' :
      d.getHours() + ':' + String(d.getMinutes()).padStart(2, '0'));
  }
  const pick = (...k) => Object.fromEntries(k.map(x => [x, h.series[x]]));
  const login = s.login || { verdicts: {} };
  const today = new Date().toISOString().slice(0, 10);
  const week = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
  let inbound = null;
  try { inbound = await api('GET', '/v1/dmarc/aggregate?from=' + week + '&to=' + today); } catch (e) { inbound = null; }
  const rangeBtn = r => el('button', { class: r === range ? '' : 'secondary', text: t('range.' + r),
    onclick: () => pageOverview(r).catch(showErr) });
  page(el('h1', { text: t('nav.overview') }),
    el('div', { class: 'cards', id: 'cards' },
      card(s.states.restricted, 'state.restricted'), card(s.states.throttled, 'state.throttled'),
      card(s.states.suspended, 'state.suspended'), card(s.states.probation, 'state.probation'),
      card(s.held_messages, 'held_messages'), card(s.decisions, 'decisions'),
      card(login.verdicts.reject || 0, 'series.login_reject'),
      card(inbound ? inbound.totals.messages : 0, 'inbound.messages')),
    el('div', { class: 'toolbar' }, rangeBtn('hour'), rangeBtn('day'), rangeBtn('week')),
    el('div', { class: 'charts' },
      chart(t('chart.decisions'), labels, pick('dunno', 'defer', 'hold', 'reject')),
      chart(t('chart.states'), labels, pick('throttled', 'restricted', 'probation', 'suspended')),
      chart(t('chart.logins'), labels, pick('login_allow', 'login_delay', 'login_reject')),
      chart(t('chart.inbound'), labels, pick('in_accept', 'in_tag', 'in_hold', 'in_tempfail', 'in_reject')),
      chart(t('chart.labels'), labels, pick('in_phishing', 'in_fake_billing', 'in_malware',
        'in_solicitation', 'in_spoofing', 'in_backscatter')),
      chart(t('chart.dmarc'), labels, pick('dmarc_pass', 'dmarc_fail', 'dmarc_none'))),
    el('h2', { text: t('inbound.title') }),
    inbound ? table(['inbound.messages', 'dmarc_pass', 'dmarc_fail', 'quarantined', 'rejected'],
      [el('tr', {}, td(inbound.totals.messages, 'num'), td(inbound.totals.dmarc_pass, 'num'),
        td(inbound.totals.dmarc_fail, 'num'), td(inbound.totals.quarantined, 'num'),
        td(inbound.totals.rejected, 'num'))]) : el('p', { class: 'hint', text: t('none') }));
}

function accountRows(list) {
  return list.map(a => el('tr', {},
    el('td', {}, el('a', { class: 'login', href: '#/account/' + enc(a.login), text: a.login })),
    el('td', {}, stateBadge(a.state)), td(a.strikes, 'num'), td(a.score, 'num'),
    td(fmtTime(a.since)), td(a.class)));
}

async function pageAccounts() {
  const lists = await Promise.all(['', 'restricted', 'throttled', 'suspended'].map(s =>
    api('GET', '/v1/accounts' + (s ? '?state=' + s : ''))));
  const heads = ['login', 'state', 'strikes', 'score', 'since', 'class'];
  const q = el('input', { type: 'text', id: 'search', placeholder: t('search.placeholder') });
  const found = el('div', { id: 'search-result' });
  const search = async ev => {
    ev.preventDefault();
    const v = q.value.trim();
    if (!v) return;
    const all = await api('GET', '/v1/accounts?state=all');
    const hits = all.accounts.filter(a => a.login.toLowerCase().includes(v.toLowerCase()));
    found.replaceChildren(hits.length ? table(heads, accountRows(hits)) :
      el('p', {}, el('a', { href: '#/account/' + enc(v), text: t('search.open') + ' ' + v })));
  };
  const sect = (title, l, id) => [el('h2', { text: t(title) + ' (' + l.accounts.length + ')' }),
    l.accounts.length ? el('div', { id }, table(heads, accountRows(l.accounts))) :
      el('p', { class: 'hint', text: t('none') })];
  page(el('h1', { text: t('nav.accounts') }),
    el('form', { class: 'toolbar', onsubmit: e => search(e).catch(showErr) }, q,
      el('button', { type: 'submit', text: t('search') })), found,
    sect('state.restricted', lists[1], 'list-restricted'),
    sect('state.throttled', lists[2], 'list-throttled'),
    sect('state.suspended', lists[3], 'list-suspended'),
    sect('accounts.watch', lists[0], 'list-watch'));
}

/* A form with fields and a submit button that runs fn(values). */
function actionForm(id, label, fields, fn, cls) {
  const f = el('form', { id }, fields.map(x => x.node),
    el('button', { type: 'submit', class: cls, text: t(label) }));
  f.addEventListener('submit', ev => {
    ev.preventDefault();
    const v = {};
    for (const x of fields) v[x.name] = x.node.type === 'checkbox' ? x.node.checked : x.node.value;
    fn(v).catch(showErr);
  });
  return f;
}

function field(name, ph, type) {
  return { name, node: el('input', { type: type || 'text', name, placeholder: t(ph || name) }) };
}

function evidenceBlock(ev) {
  const box = el('div', { class: 'evidence' });
  if (!ev || typeof ev !== 'object') return box;
  if (Array.isArray(ev.signals) && ev.signals.length) {
    box.append(el('h3', { text: t('signals') }),
      table(['signal', 'points', 'detail'], ev.signals.map(s => el('tr', {},
        td(s.name || s.signal || ''), td(s.points !== undefined ? s.points : (s.weight || ''), 'num'),
        td(Object.entries(s).filter(([k]) => !['name', 'signal', 'points', 'weight'].includes(k))
          .map(([k, v]) => k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v)).join(' ')))))); 
  }
  const rest = Object.assign({}, ev);
  delete rest.signals;
  box.append(kv(rest));
  return box;
}

async function pageAccount(login) {
  const a = await api('GET', '/v1/accounts/' + enc(login));
  const reload = () => pageAccount(login).catch(showErr);
  const held = el('select', { name: 'held' },
    ['release', 'delete', 'keep'].map(v => el('option', { value: v, text: t('held.' + v) })));
  const force = el('input', { type: 'checkbox', name: 'force' });
  const c = a.counters || {};
  page(el('h1', {}, el('span', { class: 'login', id: 'account-login', text: a.login }), ' ', stateBadge(a.state)),
    kv({ [t('strikes')]: a.strikes, [t('since')]: fmtTime(a.since), [t('until')]: fmtTime(a.until),
      [t('reason')]: a.reason || '—', [t('credential_changed')]: fmtTime(a.credential_changed),
      [t('first_seen')]: fmtTime(a.first_seen), [t('class')]: a.class + ' / ' + a.mode,
      [t('score')]: a.score }),
    el('div', { class: 'actions' },
      actionForm('restrict-form', 'action.restrict', [field('reason')], async v => {
        await api('POST', '/v1/accounts/' + enc(login) + '/restrict', { reason: v.reason });
        flash(t('done.restrict')); reload();
      }, 'danger'),
      actionForm('cred-form', 'action.credential', [field('source')], async v => {
        await api('POST', '/v1/accounts/' + enc(login) + '/credential-changed', { source: v.source });
        flash(t('done.credential')); reload();
      }, 'secondary'),
      actionForm('release-form', 'action.release',
        [{ name: 'held', node: held }, field('reason'),
          { name: 'force', node: el('label', {}, force, ' ' + t('force')) }], async v => {
          const r = await api('POST', '/v1/accounts/' + enc(login) + '/release',
            { held: held.value, reason: v.reason, force: force.checked });
          const n = (r.held_done || []).length;
          flash(t('done.release') + ' (' + t('held.' + held.value) + ': ' + n + ')'); reload();
        })),
    el('h2', { text: t('held.title') + ' (' + (a.held || []).length + ')' }),
    (a.held || []).length ? table(['queue_id', 'time'], a.held.map(h => el('tr', {},
      td(h.queue_id, 'login'), td(fmtTime(h.time))))) : el('p', { class: 'hint', text: t('none') }),
    el('h2', { text: t('counters') }),
    kv({ [t('client_ips')]: c.client_ips || [], [t('countries')]: c.countries || c.cc || [],
      [t('recipient_domains')]: c.recipient_domains || [], [t('envelope_senders')]: c.envelope_senders || [] }),
    a.logins ? [el('h2', { text: t('logins.account') }),
      kv({ [t('countries')]: a.logins.habitual_countries, [t('habitual_networks')]: a.logins.habitual_networks }),
      a.logins.incidents.length ? el('div', { id: 'account-incidents' },
        table(['incident', 'rule', 'state', 'valid', 'tried', 'first_seen', 'last_seen', 'protocol'],
          a.logins.incidents.map(i => el('tr', {},
            el('td', {}, el('a', { href: '#/logins/' + enc(i.id), text: i.id })), td(i.rule),
            el('td', {}, stateBadge(i.state)), td(i.valid ? t('yes') : t('no')), td(i.tried, 'num'),
            td(fmtTime(i.first)), td(fmtTime(i.last)), td(i.protocol)))))
        : el('p', { class: 'hint', text: t('logins.no_incident') })] : null,
    el('h2', { text: t('timeline') }),
    el('div', { id: 'timeline' }, (a.events || []).slice().reverse().map(e => e.notice ? noticeRow(e) : el('div', { class: 'event' },
      el('div', { class: 'head' }, fmtTime(e.time) + '  ', stateBadge(e.from || ''), ' → ', stateBadge(e.to || ''),
        '  ' + t('cause') + ': ', e.cause || '', '  ' + t('actor') + ': ', e.actor || ''),
      e.reason ? el('div', {}, t('reason') + ': ', el('span', { class: 'reason', text: e.reason })) : null,
      e.source ? el('div', { text: t('source') + ': ' + e.source }) : null,
      e.evidence ? evidenceBlock(e.evidence) : null))));
}

/* A timeline row for a notice that ended: "mail:AUDIENCE:ADDRESS" or
 * "webhook" (never its URL), and how it ended. */
function noticeRow(e) {
  const m = /^mail:([^:]*):(.*)$/.exec(e.notice);
  const to = m ? m[2] + ' (' + m[1] + ')' : e.notice;
  return el('div', { class: 'event notice' },
    el('div', { class: 'head' }, fmtTime(e.time) + '  ',
      el('span', { class: 'outcome-' + (e.outcome || ''), text: t('notice.' + (e.outcome || '')) }),
      '  ' + t('notice.to') + ': ', el('span', { class: 'notice-to', text: to })));
}

async function pageHeld() {
  const h = await api('GET', '/v1/held');
  const boxes = [];
  const by = {};
  for (const r of h.held) (by[r.login] = by[r.login] || []).push(r);
  const bulk = async action => {
    const ids = boxes.filter(b => b.checked).map(b => b.value);
    let ok = 0;
    for (const q of ids) {
      try { await api('POST', '/v1/held/' + enc(q) + '/' + action, {}); ok++; } catch (e) { flash(q + ': ' + e.message, true); }
    }
    flash(t('held.' + action) + ': ' + ok + '/' + ids.length);
    pageHeld().catch(showErr);
  };
  page(el('h1', { text: t('nav.held') + ' (' + h.held.length + ')' }),
    el('div', { class: 'toolbar' },
      el('button', { id: 'held-release', text: t('held.release_selected'), onclick: () => bulk('release') }),
      el('button', { id: 'held-delete', class: 'danger', text: t('held.delete_selected'), onclick: () => bulk('delete') })),
    Object.entries(by).map(([login, rows]) => {
      const all = el('input', { type: 'checkbox', title: t('select_all') });
      const mine = rows.map(r => { const b = el('input', { type: 'checkbox', value: r.queue_id }); boxes.push(b); return b; });
      all.addEventListener('change', () => { for (const b of mine) b.checked = all.checked; });
      return [el('h2', {}, el('a', { class: 'login', href: '#/account/' + enc(login), text: login }), ' ', all),
        table(['', 'queue_id', 'time', 'last_attempt'], rows.map((r, i) => el('tr', {},
          el('td', {}, mine[i]), td(r.queue_id, 'login'), td(fmtTime(r.time)),
          td(r.last_attempt ? r.last_attempt.action + ' ' + r.last_attempt.result : ''))))];
    }),
    h.held.length ? null : el('p', { class: 'hint', text: t('none') }));
}

async function pageLogins(incId) {
  let inc = null, ips = null, allow = null, off = false;
  try {
    [inc, ips, allow] = await Promise.all([api('GET', '/v1/incidents'), api('GET', '/v1/ips'),
      api('GET', '/v1/allowlist')]);
  } catch (e) {
    if (e.status !== 404) throw e;
    off = true;
  }
  if (off) { page(el('h1', { text: t('nav.logins') }), el('p', { class: 'hint', text: t('logins.off') })); return; }
  let detail = null;
  if (incId) {
    const d = await api('GET', '/v1/incidents/' + enc(incId));
    detail = [el('h2', {}, t('incident') + ' ', el('span', { text: d.id }), ' ',
      el('a', { href: '/v1/incidents/' + enc(d.id) + '/export?format=csv', download: d.id + '.csv', text: t('export_csv') })),
    el('p', { class: 'hint', text: d.reason || '' }),
    table(['login', 'valid', 'tried', 'first_seen', 'last_seen', 'protocol'], (d.accounts || []).map(a => el('tr', {},
      el('td', { class: 'login', text: a.login }), td(a.valid ? t('yes') : t('no')), td(a.tried, 'num'),
      td(fmtTime(a.first)), td(fmtTime(a.last)), td(a.protocol))))];
  }
  page(el('h1', { text: t('nav.logins') }),
    el('h2', { text: t('incidents') }),
    inc.incidents.length ? table(['id', 'rule', 'state', 'first_seen', 'last_seen', 'addresses', 'tried', 'valid'],
      inc.incidents.map(i => el('tr', {},
        el('td', {}, el('a', { href: '#/logins/' + enc(i.id), text: i.id })), td(i.rule), el('td', {}, stateBadge(i.state)),
        td(fmtTime(i.first_seen)), td(fmtTime(i.last_seen)),
        td((i.addresses || []).join(', ') + (i.more_addresses ? ' +' + i.more_addresses : '')),
        td(i.tried, 'num'), td(i.valid, 'num')))) : el('p', { class: 'hint', text: t('none') }),
    detail,
    el('h2', { text: t('ips') }),
    el('div', { class: 'actions' }, actionForm('block-form', 'action.block',
      [field('ip', 'ip_or_cidr'), field('reason'), field('seconds', 'seconds', 'number')], async v => {
        await api('POST', '/v1/ips/block', { ip: v.ip, reason: v.reason, seconds: Number(v.seconds || 0) });
        flash(t('done.block') + ' ' + v.ip); pageLogins(incId).catch(showErr);
      }, 'danger')),
    ips.ips.length ? table(['ip', 'state', 'rule', 'since', 'until', 'reason', 'actor', ''],
      ips.ips.map(i => el('tr', {}, td(i.ip, 'login'), el('td', {}, stateBadge(i.state)), td(i.rule),
        td(fmtTime(i.since)), td(fmtTime(i.until)), td(i.reason), td(i.actor),
        el('td', {}, i.state === 'delayed' ? null : el('button', { class: 'secondary', text: t('action.unblock'),
          onclick: () => api('POST', '/v1/ips/unblock', { ip: i.ip }).then(() => {
            flash(t('done.unblock') + ' ' + i.ip); return pageLogins(incId);
          }).catch(showErr) }))))) : el('p', { class: 'hint', text: t('none') }),
    el('h2', { text: t('allowlist') }),
    el('div', { class: 'actions' }, actionForm('allow-form', 'action.allow',
      [field('net', 'ip_or_cidr'), field('reason'), field('expires', 'allow.expires', 'number')], async v => {
        await api('POST', '/v1/allowlist', { net: v.net, reason: v.reason, expires: Number(v.expires || 0) });
        flash(t('done.allow') + ' ' + v.net); pageLogins(incId).catch(showErr);
      })),
    allow.allowlist.length ? el('div', { id: 'allowlist' }, table(['net', 'since', 'until', 'reason', 'actor', ''],
      allow.allowlist.map(a => el('tr', {}, td(a.net, 'login'), td(fmtTime(a.since)),
        td(a.until ? fmtTime(a.until) : t('allow.no_end')), td(a.reason), td(a.actor),
        el('td', {}, el('button', { class: 'secondary', text: t('action.allow_del'),
          onclick: () => api('DELETE', '/v1/allowlist/' + a.net.split('/').map(enc).join('/')).then(() => {
            flash(t('done.allow_del') + ' ' + a.net); return pageLogins(incId);
          }).catch(showErr) })))))) : el('p', { class: 'hint', text: t('none') }),
    el('p', { class: 'hint', text: t('allowlist.hint') }));
}

async function pageDomains(domain) {
  const inp = el('input', { type: 'text', id: 'domain', value: domain || '', placeholder: 'example.com' });
  const out = el('div', { id: 'domain-result' });
  const form = el('form', { class: 'toolbar' }, inp, el('button', { type: 'submit', text: t('show') }));
  form.addEventListener('submit', ev => { ev.preventDefault(); location.hash = '#/domains/' + enc(inp.value.trim()); });
  const today = new Date().toISOString().slice(0, 10);
  const week = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
  const agg = await api('GET', '/v1/dmarc/aggregate?from=' + week + '&to=' + today +
    (domain ? '&domain=' + enc(domain) : ''));
  page(el('h1', { text: t('nav.domains') }), form,
    el('h2', { text: t('inbound.title') }),
    table(['inbound.messages', 'dmarc_pass', 'dmarc_fail', 'spf_pass', 'dkim_pass', 'quarantined', 'rejected'],
      [el('tr', {}, ['messages', 'dmarc_pass', 'dmarc_fail', 'spf_pass', 'dkim_pass', 'quarantined', 'rejected']
        .map(k => td(agg.totals[k], 'num')))]), out);
  if (!domain) { out.append(el('p', { class: 'hint', text: t('domains.hint') })); return; }
  const check = el('div', { id: 'domain-check' });
  const checkBtn = el('button', { type: 'button', id: 'domain-check-run', text: t('check.run') });
  checkBtn.addEventListener('click', () => domainCheck(domain, check, checkBtn));
  out.append(el('h2', { text: t('check.title') }), el('div', { class: 'toolbar' }, checkBtn),
    el('p', { class: 'hint', text: t('check.hint') }), check);
  const s = await api('GET', '/v1/dmarc/sources?domain=' + enc(domain) + '&days=30');
  out.append(el('h2', { text: t('dmarc.sources') + ': ' + s.domain }),
    table(['ours', 'authorised', 'forwarder', 'forger'], [el('tr', {},
      ['ours', 'authorised', 'forwarder', 'forger'].map(k => td(s.totals[k], 'num')))]),
    s.sources.length ? table(['source_ip', 'network', 'class', 'count', 'dkim_pass', 'spf_pass', 'disposition', 'first_day', 'last_day', 'reporters'],
      s.sources.map(r => el('tr', {}, td(r.source_ip, 'login'), td(r.network), el('td', {}, stateBadge(r.class)),
        td(r.count, 'num'), td(r.dkim_pass, 'num'), td(r.spf_pass, 'num'),
        td('none ' + r.disposition.none + ' / quarantine ' + r.disposition.quarantine + ' / reject ' + r.disposition.reject),
        td(r.first_day), td(r.last_day), td(r.reporters))))
      : el('p', { class: 'hint', text: t('none') }),
    el('h2', { text: t('dmarc.per_day') }),
    table(['day', 'ours', 'authorised', 'forwarder', 'forger'], s.per_day.map(d => el('tr', {},
      td(d.day), td(d.ours, 'num'), td(d.authorised, 'num'), td(d.forwarder, 'num'), td(d.forger, 'num')))));
}

/* Domains page: run GET /v1/domain/check and show its findings, the staged
 * p=quarantine/p=reject advice (advice.*) apart; text only. */
async function domainCheck(domain, box, btn) {
  btn.disabled = true;
  box.replaceChildren(el('p', { class: 'hint', text: t('check.running') }));
  let r;
  try { r = await api('GET', '/v1/domain/check?domain=' + enc(domain)); }
  catch (e) {
    box.replaceChildren(el('p', { class: 'msg err', id: 'domain-check-error', text: t('check.failed') + ': ' + e.message }));
    btn.disabled = false;
    return;
  }
  btn.disabled = false;
  const item = f => el('li', { class: 'finding ' + f.severity },
    el('span', { class: 'sev ' + f.severity, text: t('sev.' + f.severity) }), ' ',
    el('code', { text: f.code }), ' ', el('span', { text: f.text }));
  const list = fs => fs.length ? el('ul', { class: 'findings' }, fs.map(item))
    : el('p', { class: 'hint', text: t('none') });
  const fs = r.findings || [];
  box.replaceChildren(
    el('p', { id: 'domain-check-summary', text: r.domain + ': ' + r.errors + ' ' + t('check.errors') + ', ' +
      r.warnings + ' ' + t('check.warnings') + ', ' + r.dns_queries + ' ' + t('check.queries') +
      ' (SPF ' + r.spf_lookups + '/10, void ' + r.spf_void_lookups + '/2)' }),
    r.complete ? null : el('p', { class: 'msg err', text: t('check.incomplete') }),
    el('h3', { text: t('check.advice') }), list(fs.filter(f => f.code.startsWith('advice.'))),
    el('h3', { text: t('check.findings') }), list(fs.filter(f => !f.code.startsWith('advice.'))));
}

async function pageScan() {
  const file = el('input', { type: 'file', id: 'eml', accept: '.eml,message/rfc822' });
  const ip = el('input', { type: 'text', id: 'scan-ip', placeholder: t('scan.ip') });
  const from = el('input', { type: 'text', id: 'scan-from', placeholder: t('scan.mail_from') });
  const out = el('div', { id: 'scan-result' });
  const go = async ev => {
    ev.preventDefault();
    if (!file.files.length) return;
    const text = await file.files[0].text();
    const q = '?ip=' + enc(ip.value.trim()) + '&mail_from=' + enc(from.value.trim());
    const r = await fetch('/v1/scan' + q, { method: 'POST', credentials: 'same-origin',
      headers: { 'X-Mamori-CSRF': ui.csrf, 'Content-Type': 'message/rfc822' }, body: text });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || r.status);
    const summary = { action: j.action, score: j.score, labels: j.labels || [],
      spf: j.spf, dkim: j.dkim, dmarc: j.dmarc, disposition: j.disposition,
      from_domain: j.from_domain, reason: j.reason };
    out.replaceChildren(...[el('h2', { text: t('scan.verdict') }), kv(summary),
      (j.reasons || []).length ? table(['signal', 'label', 'points', 'detail'], j.reasons.map(r =>
        el('tr', {}, td(r.name), td(r.label), td(r.points, 'num'), td(r.detail)))) : null,
      el('h2', { text: 'JSON' }), el('pre', { class: 'raw', text: JSON.stringify(j, null, 2) })].filter(Boolean));
  };
  page(el('h1', { text: t('nav.scan') }),
    el('form', { class: 'toolbar', onsubmit: e => go(e).catch(showErr) }, file, ip, from,
      el('button', { type: 'submit', text: t('scan.run') })),
    el('p', { class: 'hint', text: t('scan.hint') }), out);
}

/* ---------------------------------------------------------------- frame */

function showErr(e) { flash(e.message || String(e), true); }

function showLogin() {
  document.getElementById('login').hidden = false;
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('page').replaceChildren();
}

function translateStatic() {
  document.documentElement.lang = ui.lang;
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
}

async function route() {
  if (!ui.csrf) return;
  document.getElementById('flash').replaceChildren();
  const h = location.hash.replace(/^#\/?/, '') || 'overview';
  const [name, ...rest] = h.split('/');
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : '';
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.getAttribute('href') === '#/' + (name === 'account' ? 'accounts' : name));
  const pages = { overview: pageOverview, accounts: pageAccounts, account: pageAccount,
    held: pageHeld, logins: pageLogins, domains: pageDomains, scan: pageScan };
  try {
    await (pages[name] || pageOverview)(arg);
    document.body.dataset.page = name;
  } catch (e) { showErr(e); }
}

function signedIn(s) {
  ui.csrf = s.csrf;
  ui.actor = s.actor;
  document.getElementById('login').hidden = true;
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = s.actor;
  route();
}

async function start() {
  const r = await fetch('/ui/i18n.json');
  ui.cat = await r.json();
  ui.lang = localStorage.getItem('mamori.lang') ||
    ((navigator.language || '').startsWith('ja') ? 'ja' : 'en');
  const sel = document.getElementById('lang');
  sel.value = ui.lang;
  sel.addEventListener('change', () => {
    ui.lang = sel.value;
    localStorage.setItem('mamori.lang', ui.lang);
    translateStatic();
    route();
  });
  translateStatic();
  document.getElementById('login-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const res = await fetch('/ui/login', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: document.getElementById('token').value }) });
    const j = await res.json();
    if (!res.ok) { flash(t('login.failed') + ': ' + (j.error || res.status), true); return; }
    document.getElementById('token').value = '';
    flash('');
    document.getElementById('flash').replaceChildren();
    signedIn(j);
  });
  document.getElementById('logout').addEventListener('click', async () => {
    await api('POST', '/ui/logout', {}).catch(() => null);
    ui.csrf = '';
    showLogin();
  });
  window.addEventListener('hashchange', route);
  const s = await fetch('/ui/session', { credentials: 'same-origin' });
  if (s.ok) signedIn(await s.json()); else showLogin();
}

document.addEventListener('DOMContentLoaded', () => { start().catch(showErr); });

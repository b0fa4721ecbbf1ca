/* Chronik console: one page, hash routes, plain DOM (no framework, no innerHTML of broker data).
 *
 * Pages poll the JSON API under /console/api (1-2 s while visible); every write is a POST with the
 * session's CSRF token. Page roots carry data-testid="page-<name>" and data-loaded="true" once their
 * first data is drawn. The API and the test ids are listed in the module docstrings of chronik.console.
 */
(function () {
  "use strict";

  const S = { session: null, timers: [], gen: 0 };
  const $ = (sel, root) => (root || document).querySelector(sel);

  // -- DOM helpers ---------------------------------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "testid") e.setAttribute("data-testid", v);
      else if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  function field(id, label, input, hint) {
    input.id = id;
    const kids = [h("label", { for: id, text: label }), input];
    if (hint) {
      input.setAttribute("aria-describedby", id + "-hint");
      kids.push(h("span", { id: id + "-hint", class: "muted", text: hint }));
    }
    return h("div", { class: "field" }, kids);
  }

  function table(testid, caption, headers, rowsTestid) {
    const tbody = h("tbody");
    const t = h("table", { testid },
      h("caption", { text: caption }),
      h("thead", {}, h("tr", {}, headers.map(x => h("th", { scope: "col", class: x.num ? "num" : null, text: x.label || x })))),
      tbody);
    const wrap = h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption + " (table)" }, t);
    return { wrap, table: t, tbody };
  }

  // -- formatting ----------------------------------------------------------------------------------
  const nf = new Intl.NumberFormat("en-US");
  const num = v => (v === null || v === undefined ? "–" : nf.format(v));
  function bytes(v) {
    if (v === null || v === undefined) return "–";
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)) + " " + u[i];
  }
  function duration(ms) {
    if (ms === null || ms === undefined || ms < 0) return "forever";
    const s = ms / 1000;
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return (Math.round(s / 8640) / 10) + " d";
  }
  function iso(ms) {
    try { return new Date(ms).toISOString(); } catch (e) { return String(ms); }
  }
  function uptime(sec) {
    sec = Math.floor(sec);
    const d = Math.floor(sec / 86400), hh = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
    return (d ? d + "d " : "") + (d || hh ? hh + "h " : "") + (d || hh || m ? m + "m " : "") + s + "s";
  }

  // -- the API -------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      const err = (body && body.error) || {};
      super(err.message || ("HTTP " + status));
      this.status = status;
      this.code = err.code;
      this.body = body;
    }
  }

  async function api(path, opts) {
    const o = Object.assign({ credentials: "same-origin", headers: {} }, opts || {});
    if (o.method === "POST") {
      o.headers["content-type"] = "application/json";
      o.headers["x-csrf-token"] = S.session ? S.session.csrf_token : "";
      o.body = JSON.stringify(o.json || {});
    }
    const r = await fetch(path, o);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      if (r.status === 401 && body && body.auth_required && !path.endsWith("/login")) {
        S.session.authenticated = false;
        showLogin();
      }
      throw new ApiError(r.status, body);
    }
    return body;
  }
  const post = (path, json) => api(path, { method: "POST", json });
  const enc = encodeURIComponent;

  // -- messages ------------------------------------------------------------------------------------
  function showError(msg) {
    const e = $("#error");
    e.textContent = msg;
    e.hidden = false;
  }
  function clearError() { const e = $("#error"); e.hidden = true; e.textContent = ""; }
  function notice(msg) { $("#notice").textContent = msg; }
  function explain(err) {
    return (err.code ? err.code + ": " : "") + err.message;
  }

  // -- timers per page -----------------------------------------------------------------------------
  function every(ms, fn) {
    const gen = S.gen;
    let stopped = false;
    async function tick() {
      if (stopped || gen !== S.gen) return;
      if (!document.hidden) {
        try { await fn(); } catch (e) { if (gen === S.gen && e.status !== 401) showError(explain(e)); }
      }
      if (!stopped && gen === S.gen) t.id = setTimeout(tick, ms);
    }
    const t = { id: setTimeout(tick, ms), stop() { stopped = true; clearTimeout(t.id); } };
    S.timers.push(t);
    return t;
  }
  function stopTimers() { for (const t of S.timers) t.stop(); S.timers = []; }

  function pageRoot(name, title) {
    const main = $("#main");
    const id = "h-" + name;
    const root = h("section", { testid: "page-" + name, "aria-labelledby": id });
    root.append(h("h1", { id, text: title }));
    main.replaceChildren(root);
    document.title = title + " · Chronik console";
    return root;
  }
  const loaded = root => root.setAttribute("data-loaded", "true");
  const canWrite = () => S.session && !S.session.read_only;

  // -- routing -------------------------------------------------------------------------------------
  async function route() {
    stopTimers();
    S.gen++;
    clearError();
    notice("");
    if (S.session && S.session.auth_required && !S.session.authenticated) { showLogin(); return; }
    const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
    const [page, arg] = parts;
    const nav = { "": "overview", topics: "topics", groups: "groups", schemas: "schemas" }[page || ""];
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    try {
      if (!page) await overview();
      else if (page === "topics" && arg) await topic(arg);
      else if (page === "topics") await topics();
      else if (page === "groups" && arg) await group(arg);
      else if (page === "groups") await groups();
      else if (page === "schemas" && arg) await subject(arg);
      else if (page === "schemas") await schemas();
      else { pageRoot("notfound", "Not found").append(h("p", { text: "No console page at " + location.hash })); }
    } catch (e) {
      if (e.status !== 401) showError(explain(e));
    }
  }

  // -- login ---------------------------------------------------------------------------------------
  function showLogin() {
    stopTimers();
    S.gen++;
    const root = pageRoot("login", "Log in");
    root.append(h("p", { text: "This broker checks ACLs. Log in with a SASL (SCRAM) user of the broker; the console then acts as that user." }));
    const user = h("input", { type: "text", autocomplete: "username", required: true });
    const pass = h("input", { type: "password", autocomplete: "current-password", required: true });
    const form = h("form", { class: "login panel", testid: "login-form" },
      field("login-username", "User name", user),
      field("login-password", "Password", pass),
      h("p", {}, h("button", { type: "submit", testid: "login-submit", text: "Log in" })));
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      clearError();
      try {
        S.session = await post("/console/api/login", { username: user.value, password: pass.value });
        renderWho();
        route();
      } catch (e) { showError(explain(e)); }
    });
    root.append(form);
    loaded(root);
    user.focus();
  }

  function renderWho() {
    const s = S.session;
    $("#principal").textContent = s.principal ? "Signed in as " + s.principal : "";
    $("#logout").hidden = !(s.auth_required && s.authenticated);
    $("#read-only-banner").hidden = !s.read_only;
    $("#brand-version").textContent = "v" + s.version;
  }

  // -- overview ------------------------------------------------------------------------------------
  async function overview() {
    const root = pageRoot("overview", "Overview");
    const gen = S.gen;
    const card = (testid, label) => {
      const dd = h("dd", { testid, text: "…" });
      return [h("div", {}, h("dt", { text: label }), dd), dd];
    };
    const cards = {};
    const dl = h("dl", { class: "cards" });
    for (const [k, label] of [["status-state", "Status"], ["status-version", "Version"], ["status-uptime", "Uptime"],
      ["status-data-dir-size", "Data directory"], ["status-connections", "Connections"],
      ["status-topics", "Topics"], ["status-partitions", "Partitions"], ["status-groups", "Consumer groups"],
      ["status-kafka", "Kafka address"]]) {
      const [div, dd] = card(k, label);
      cards[k] = dd;
      dl.append(div);
    }
    root.append(h("h2", { text: "Broker" }), dl);
    const charts = h("div", { class: "charts" });
    root.append(h("h2", { text: "Last 15 minutes" }), charts);
    const mk = (testid, title, unit, series) => {
      const fig = h("figure", { class: "chart" }, h("figcaption", { text: title }));
      charts.append(fig);
      return ChronikChart.create(fig, { title, unit, series, testid });
    };
    const cProduce = mk("chart-produce", "Produce throughput", "bytes/s",
      [{ key: "produce_bytes_per_s", label: "bytes in", color: "#1d4e89" }]);
    const cMsgs = mk("chart-messages", "Messages produced", "messages/s",
      [{ key: "produce_messages_per_s", label: "messages in", color: "#6b3fa0" }]);
    const cFetch = mk("chart-fetch", "Fetch throughput", "bytes/s",
      [{ key: "fetch_bytes_per_s", label: "bytes out", color: "#1b6e3a" }]);
    const cLat = mk("chart-latency", "Produce request latency", "ms",
      [{ key: "produce_p99_ms", label: "p99", color: "#a4161a" }, { key: "produce_p50_ms", label: "p50", color: "#b45309" }]);
    let points = [];
    let since = 0;
    async function status() {
      const o = await api("/console/api/overview");
      if (gen !== S.gen) return;
      const st = o.status;
      cards["status-state"].textContent = st.ready ? "ready" : "starting";
      cards["status-version"].textContent = st.version;
      cards["status-uptime"].textContent = uptime(st.uptime_seconds);
      cards["status-data-dir-size"].textContent = st.data_dir_bytes === null ? bytes(st.log_bytes) + " (logs)" : bytes(st.data_dir_bytes);
      cards["status-data-dir-size"].title = st.data_dir;
      cards["status-connections"].textContent = num(st.connections.kafka) + " Kafka, " + num(st.connections.http) + " HTTP";
      cards["status-topics"].textContent = num(st.topics);
      cards["status-partitions"].textContent = num(st.partitions);
      cards["status-groups"].textContent = num(st.groups);
      cards["status-kafka"].textContent = st.kafka;
    }
    async function series() {
      const o = await api("/console/api/overview/series?since=" + since);
      if (gen !== S.gen) return;
      if (o.points.length) {
        points = points.concat(o.points).slice(-900);
        since = points[points.length - 1].t;
      }
      for (const c of [cProduce, cMsgs, cFetch, cLat]) c.update(points);
    }
    await Promise.all([status(), series()]);
    loaded(root);
    every(2000, status);
    every(1000, series);
  }

  // -- topics --------------------------------------------------------------------------------------
  async function topics() {
    const root = pageRoot("topics", "Topics");
    const gen = S.gen;
    const t = table("topics-table", "Topics",
      ["Name", { label: "Partitions", num: 1 }, { label: "Messages", num: 1 }, { label: "Size", num: 1 },
        { label: "Rate", num: 1 }, "Retention", "Cleanup", "Search", canWrite() ? "Actions" : null].filter(Boolean));
    root.append(t.wrap);
    let last = "";
    async function load() {
      const o = await api("/console/api/topics");
      if (gen !== S.gen) return;
      const sig = JSON.stringify(o.topics);
      if (sig === last) return;
      last = sig;
      const rows = o.topics.map(x => h("tr", { testid: "topic-row", dataset: { topic: x.name } },
        h("th", { scope: "row" }, h("a", { href: "#/topics/" + enc(x.name), text: x.name }),
          x.internal ? h("span", { class: "badge", text: " internal" }) : null),
        h("td", { class: "num", testid: "topic-partitions", text: num(x.partitions) }),
        h("td", { class: "num", testid: "topic-messages", text: num(x.messages) }),
        h("td", { class: "num", testid: "topic-size", text: bytes(x.size_bytes) }),
        h("td", { class: "num", testid: "topic-rate", text: x.messages_per_s + " msg/s" }),
        h("td", { testid: "topic-retention", text: duration(x.retention_ms) + (x.retention_bytes >= 0 ? " / " + bytes(x.retention_bytes) : "") }),
        h("td", { testid: "topic-cleanup", text: x.cleanup_policy }),
        h("td", { testid: "topic-search" }, h("span", { class: x.search_enabled ? "badge yes" : "badge", text: x.search_enabled ? "indexed" : "off" })),
        canWrite() ? h("td", {}, x.internal ? h("span", { class: "muted", text: "internal" }) : h("button", {
          type: "button", class: "danger", testid: "topic-delete", "aria-label": "Delete topic " + x.name, text: "Delete",
          onclick: () => deleteTopic(x.name, load),
        })) : null));
      t.tbody.replaceChildren(...rows);
      if (!rows.length) t.tbody.append(h("tr", {}, h("td", { colspan: 9, text: "No topics yet." })));
    }
    await load();
    if (canWrite()) root.append(createTopicForm(load));
    loaded(root);
    every(3000, load);
  }

  async function deleteTopic(name, after) {
    if (!window.confirm(`Delete topic ${name} and all its records?`)) return;
    clearError();
    try {
      await post("/console/api/topics/" + enc(name) + "/delete", {});
      notice(`Topic ${name} deleted.`);
      if (after) await after(); else location.hash = "#/topics";
    } catch (e) { showError(explain(e)); }
  }

  function parseLines(text, what) {
    const out = [];
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const i = line.indexOf("=");
      if (i <= 0) throw new Error(`${what}: each line is name=value, not ${JSON.stringify(line)}`);
      out.push([line.slice(0, i).trim(), line.slice(i + 1)]);
    }
    return out;
  }

  function createTopicForm(after) {
    const name = h("input", { type: "text", required: true, autocomplete: "off" });
    const parts = h("input", { type: "number", min: 1, max: 10000, value: 1, required: true });
    const configs = h("textarea", { rows: 3, placeholder: "retention.ms=86400000" });
    const form = h("form", { class: "panel", testid: "create-topic-form", "aria-labelledby": "h-create" },
      h("h2", { id: "h-create", text: "Create a topic" }),
      h("div", { class: "form-row" },
        field("new-topic-name", "Name", name),
        field("new-topic-partitions", "Partitions", parts),
        field("new-topic-configs", "Configs (name=value, one a line)", configs),
        h("button", { type: "submit", testid: "create-topic-submit", text: "Create" })));
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      clearError();
      try {
        const cfg = Object.fromEntries(parseLines(configs.value, "configs"));
        await post("/console/api/topics", { name: name.value.trim(), partitions: +parts.value, configs: cfg });
        notice(`Topic ${name.value.trim()} created.`);
        name.value = ""; configs.value = "";
        await after();
      } catch (e) { showError(explain(e)); }
    });
    return form;
  }

  // -- one topic -----------------------------------------------------------------------------------
  function fieldCell(f, testid) {
    const td = h("td", { testid });
    if (f === null || f === undefined) { td.append(h("span", { class: "muted", text: "null" })); return td; }
    if (f.json !== undefined && (f.format !== "text")) {
      td.append(h("pre", { text: JSON.stringify(f.json, null, 2) }));
      if (f.schema_id !== undefined) td.append(h("span", { class: "badge", text: `${f.format} · schema ${f.schema_id}` }));
    } else if (f.text !== null && f.text !== undefined) {
      td.append(testid === "message-value" ? h("pre", { text: f.text }) : document.createTextNode(f.text));
    } else {
      td.append(h("code", { text: f.base64 }), " ", h("span", { class: "badge", text: "base64" }));
    }
    if (f.error) td.append(h("span", { class: "muted", text: " " + f.error }));
    return td;
  }

  function plain(f) {
    if (f === null || f === undefined) return null;
    if (f.json !== undefined) return f.json;
    if (f.text !== null && f.text !== undefined) return f.text;
    return { base64: f.base64 };
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      const ta = h("textarea", { "aria-hidden": "true", style: "position:fixed;left:-9999px" });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      ta.remove();
      return ok;
    }
  }

  function messageRow(m) {
    const asJson = { partition: m.partition, offset: m.offset, timestamp: m.timestamp, timestamp_type: m.timestamp_type,
      key: plain(m.key), value: plain(m.value), headers: m.headers.map(x => ({ key: x.key, value: x.value })) };
    const copy = h("button", { type: "button", class: "secondary", testid: "message-copy",
      "aria-label": `Copy message ${m.partition}/${m.offset} as JSON`, text: "Copy" });
    copy.addEventListener("click", async () => {
      copy.dataset.copied = "true";
      copy.dataset.json = JSON.stringify(asJson);
      const ok = await copyText(JSON.stringify(asJson, null, 2));
      notice(ok ? `Message ${m.partition}/${m.offset} copied as JSON.` : "The browser refused the clipboard.");
    });
    return h("tr", { testid: "message-row", dataset: { partition: m.partition, offset: m.offset } },
      h("td", { class: "num", testid: "message-partition", text: m.partition }),
      h("td", { class: "num", testid: "message-offset", text: m.offset }),
      h("td", { testid: "message-timestamp" }, h("time", { datetime: iso(m.timestamp), text: iso(m.timestamp) })),
      fieldCell(m.key, "message-key"),
      fieldCell(m.value, "message-value"),
      h("td", { testid: "message-headers" }, m.headers.length ? h("ul", { class: "plain" },
        m.headers.map(x => h("li", {}, h("code", { text: x.key }), "=", x.value === null ? (x.base64 ? "base64:" + x.base64 : "null") : x.value))) : ""),
      h("td", {}, copy));
  }

  const MSG_HEADERS = [{ label: "Partition", num: 1 }, { label: "Offset", num: 1 }, "Timestamp (UTC)", "Key", "Value", "Headers", "Copy"];

  async function topic(name) {
    const root = pageRoot("topic", "Topic");
    const gen = S.gen;
    root.querySelector("h1").replaceChildren("Topic ", h("span", { testid: "topic-name", text: name }));
    const facts = h("p", { class: "muted", testid: "topic-facts" });
    root.append(facts);
    // partitions
    const pt = table("partitions-table", "Partitions", [{ label: "Partition", num: 1 }, { label: "Start offset", num: 1 },
      { label: "End offset", num: 1 }, { label: "Messages", num: 1 }, { label: "Size", num: 1 }]);
    root.append(h("h2", { text: "Partitions" }), pt.wrap);
    let detail = await api("/console/api/topics/" + enc(name));
    const partSelectOptions = () => [h("option", { value: "", text: "all" }),
      ...detail.partitions.map(p => h("option", { value: p.partition, text: String(p.partition) }))];
    function drawDetail() {
      facts.textContent = `${detail.partition_count} partitions · ${num(detail.messages)} messages · ${bytes(detail.size_bytes)} · ` +
        `cleanup ${detail.cleanup_policy} · retention ${duration(detail.retention_ms)} · search ${detail.search_enabled ? "on" : "off"}`;
      pt.tbody.replaceChildren(...detail.partitions.map(p => h("tr", { testid: "partition-row", dataset: { partition: p.partition } },
        h("td", { class: "num", text: p.partition }),
        h("td", { class: "num", testid: "partition-start", text: num(p.start_offset) }),
        h("td", { class: "num", testid: "partition-end", text: num(p.end_offset) }),
        h("td", { class: "num", text: num(p.messages) }),
        h("td", { class: "num", testid: "partition-size", text: bytes(p.size_bytes) }))));
    }
    drawDetail();

    // messages
    root.append(h("h2", { id: "h-messages", text: "Messages" }));
    const from = h("select", {}, ["end", "start", "offset", "time"].map(v => h("option", { value: v,
      text: { end: "newest (end)", start: "oldest (start)", offset: "from offset", time: "from time" }[v] })));
    const offset = h("input", { type: "number", min: 0, value: 0 });
    const time = h("input", { type: "datetime-local", step: 1 });
    const part = h("select", {}, partSelectOptions());
    const limit = h("input", { type: "number", min: 1, max: 500, value: 50 });
    const tailBox = h("input", { type: "checkbox" });
    const download = h("a", { testid: "download-jsonl", download: "", href: "#", text: "Download as JSON lines" });
    const count = h("p", { class: "muted", testid: "messages-count", "aria-live": "polite" });
    const form = h("form", { class: "inline", testid: "browse-form", "aria-labelledby": "h-messages" },
      field("browse-from", "From", from),
      field("browse-offset", "Offset", offset),
      field("browse-time", "Time (UTC)", time),
      field("browse-partition", "Partition", part),
      field("browse-limit", "Max messages", limit),
      h("button", { type: "submit", testid: "browse-submit", text: "Show" }),
      h("div", { class: "field check", testid: "tail-toggle" }, tailBox, h("label", { for: "tail", text: "Live tail" })),
      download);
    tailBox.id = "tail";
    root.append(form, count);
    const mt = table("messages-table", "Messages, newest first", MSG_HEADERS);
    root.append(mt.wrap);
    let cursorText = "";
    function query() {
      const q = new URLSearchParams({ from: from.value, limit: limit.value || "50" });
      if (from.value === "offset") q.set("offset", offset.value || "0");
      if (from.value === "time") {
        if (!time.value) throw new Error("Pick a time to read from.");
        q.set("time", new Date(time.value + "Z").getTime());
      }
      if (part.value !== "") q.set("partition", part.value);
      return q;
    }
    function updateDownload() {
      try {
        const q = query();
        q.set("order", "oldest");
        download.href = "/console/api/topics/" + enc(name) + "/download?" + q.toString();
      } catch (e) { download.href = "#"; }
    }
    for (const e of [from, offset, time, part, limit]) e.addEventListener("change", updateDownload);
    async function browse() {
      const o = await api("/console/api/topics/" + enc(name) + "/messages?" + query().toString());
      if (gen !== S.gen) return;
      mt.tbody.replaceChildren(...o.messages.map(messageRow));
      count.textContent = `${o.messages.length} message${o.messages.length === 1 ? "" : "s"}` + (o.truncated ? " (more available: raise the limit or narrow the range)" : "");
      updateDownload();
    }
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      clearError();
      try { await browse(); } catch (e) { showError(explain(e)); }
    });
    let tailTimer = null;
    async function tailOnce() {
      const o = await api("/console/api/topics/" + enc(name) + "/tail?cursor=" + enc(cursorText));
      if (gen !== S.gen) return;
      cursorText = o.cursor_text;
      if (o.messages.length) {
        const rows = o.messages.map(messageRow);
        mt.tbody.prepend(...rows);
        while (mt.tbody.children.length > 1000) mt.tbody.lastElementChild.remove();
        count.textContent = `${mt.tbody.children.length} messages (live)`;
      }
    }
    tailBox.addEventListener("change", async () => {
      if (tailTimer) { tailTimer.stop(); tailTimer = null; }
      if (tailBox.checked) {
        cursorText = "";
        try { await tailOnce(); } catch (e) { showError(explain(e)); }
        tailTimer = every(1000, tailOnce);
        notice("Live tail on: new messages appear at the top.");
      } else notice("Live tail off.");
    });
    await browse();

    // search
    root.append(h("h2", { id: "h-search", text: "Search" }));
    const sq = h("input", { type: "search", testid: "search-box", placeholder: 'value.status:failed AND "timeout"', size: 40 });
    const since = h("input", { type: "datetime-local", step: 1 });
    const until = h("input", { type: "datetime-local", step: 1 });
    const saveBtn = h("button", { type: "button", class: "secondary", testid: "search-save", text: "Save query" });
    const saved = h("ul", { class: "legend", testid: "saved-searches", "aria-label": "Saved queries" });
    const sform = h("form", { class: "inline", testid: "search-form", "aria-labelledby": "h-search" },
      field("search-query", "Query (chronik search syntax)", sq,
        "words, \"phrases\", AND/OR/NOT, key:, value.<json path>:, headers.<name>:, offset:[a TO b]; * for all"),
      field("search-since", "Since (UTC)", since),
      field("search-until", "Until (UTC)", until),
      h("button", { type: "submit", testid: "search-submit", text: "Search" }), saveBtn);
    // Saved queries live in this browser (localStorage), per topic.
    const savedKey = "chronik.saved-searches." + name;
    const loadSaved = () => { try { return JSON.parse(localStorage.getItem(savedKey) || "[]"); } catch (e) { return []; } };
    function drawSaved() {
      saved.replaceChildren(...loadSaved().map(q => h("li", {},
        h("button", { type: "button", class: "link", text: q, "aria-label": "Search again: " + q,
          onclick: () => { sq.value = q; sform.requestSubmit(); } }),
        " ", h("button", { type: "button", class: "link", text: "×", "aria-label": "Forget saved query " + q,
          onclick: () => { localStorage.setItem(savedKey, JSON.stringify(loadSaved().filter(x => x !== q))); drawSaved(); } }))));
    }
    saveBtn.addEventListener("click", () => {
      const q = sq.value.trim();
      if (!q) return;
      const list = [q, ...loadSaved().filter(x => x !== q)].slice(0, 20);
      try { localStorage.setItem(savedKey, JSON.stringify(list)); } catch (e) { /* private mode */ }
      drawSaved();
      notice("Query saved in this browser.");
    });
    drawSaved();
    const notIndexed = h("p", { class: "error", testid: "search-not-indexed", role: "status", hidden: true });
    const stotal = h("p", { class: "muted", "aria-live": "polite" });
    const st = table("search-results", "Search results", MSG_HEADERS);
    st.wrap.hidden = true;
    root.append(sform, saved, notIndexed, stotal, st.wrap);
    if (!detail.search_enabled) {
      root.insertBefore(h("p", { class: "muted", text: "This topic is not indexed: set chronik.search.enable=true to search it." }), sform);
    }
    sform.addEventListener("submit", async ev => {
      ev.preventDefault();
      clearError();
      notIndexed.hidden = true;
      stotal.replaceChildren();
      try {
        const q = new URLSearchParams({ q: sq.value, size: "100" });
        if (since.value) q.set("since", new Date(since.value + "Z").getTime());
        if (until.value) q.set("until", new Date(until.value + "Z").getTime());
        const o = await api("/console/api/topics/" + enc(name) + "/search?" + q.toString());
        if (gen !== S.gen) return;
        st.tbody.replaceChildren(...o.hits.map(messageRow));
        st.wrap.hidden = false;
        stotal.replaceChildren(h("span", { testid: "search-total", text: num(o.total) }), ` hit${o.total === 1 ? "" : "s"}` +
          (o.total > o.hits.length ? ` (showing ${o.hits.length}, newest first)` : ""));
      } catch (e) {
        st.tbody.replaceChildren();
        st.wrap.hidden = true;
        if (e.body && e.body.indexed === false) {
          notIndexed.textContent = e.message;
          notIndexed.hidden = false;
        } else showError(explain(e));
      }
    });

    // produce
    if (canWrite()) {
      const pkey = h("input", { type: "text", autocomplete: "off" });
      const pval = h("textarea", { rows: 4 });
      const phead = h("textarea", { rows: 2, placeholder: "source=console" });
      const ppart = h("select", {}, [h("option", { value: "", text: "by key" }),
        ...detail.partitions.map(p => h("option", { value: p.partition, text: String(p.partition) }))]);
      const pform = h("form", { class: "panel", testid: "produce-form", "aria-labelledby": "h-produce" },
        h("h2", { id: "h-produce", text: "Produce a message" }),
        h("div", { class: "form-row" },
          field("produce-key", "Key (empty: null)", pkey),
          field("produce-value", "Value", pval),
          field("produce-headers", "Headers (name=value, one a line)", phead),
          field("produce-partition", "Partition", ppart),
          h("button", { type: "submit", testid: "produce-submit", text: "Produce" })));
      pform.addEventListener("submit", async ev => {
        ev.preventDefault();
        clearError();
        try {
          const headers = parseLines(phead.value, "headers").map(([key, value]) => ({ key, value }));
          const r = await post("/console/api/topics/" + enc(name) + "/produce", {
            key: pkey.value === "" ? null : pkey.value, value: pval.value, headers,
            partition: ppart.value === "" ? null : +ppart.value });
          notice(`Produced to partition ${r.partition} at offset ${r.offset}.`);
        } catch (e) { showError(explain(e)); }
      });
      root.append(pform);
    }

    // configs
    const ct = table("configs-table", "Configs (overrides first)", ["Name", "Value", "Source"]);
    root.append(h("h2", { text: "Configs" }), ct.wrap);
    function drawConfigs() {
      const rows = detail.configs.slice().sort((a, b) => (a.is_default - b.is_default) || a.name.localeCompare(b.name));
      ct.tbody.replaceChildren(...rows.map(c => h("tr", { testid: "config-row", dataset: { config: c.name } },
        h("th", { scope: "row" }, h("code", { text: c.name })),
        h("td", { text: c.value === null ? "null" : c.value }),
        h("td", {}, c.is_default ? h("span", { class: "muted", text: "default" }) : [h("span", { class: "badge yes", text: "topic" }),
          canWrite() ? [" ", h("button", { type: "button", class: "link", text: "reset",
            "aria-label": "Reset " + c.name + " to its default",
            onclick: async () => {
              clearError();
              try { detail = await post("/console/api/topics/" + enc(name) + "/configs", { delete: [c.name] }); drawConfigs(); drawDetail(); notice(`${c.name} reset to its default.`); } catch (e) { showError(explain(e)); }
            } })] : null]))));
    }
    drawConfigs();
    if (canWrite()) {
      const cname = h("input", { type: "text", list: "config-names", autocomplete: "off", required: true });
      const cval = h("input", { type: "text", required: true });
      const dl = h("datalist", { id: "config-names" }, detail.configs.map(c => h("option", { value: c.name })));
      const aform = h("form", { class: "inline", testid: "alter-config-form", "aria-label": "Change a config" },
        field("config-name", "Config", cname), dl, field("config-value", "Value", cval),
        h("button", { type: "submit", testid: "alter-config-submit", text: "Set" }));
      aform.addEventListener("submit", async ev => {
        ev.preventDefault();
        clearError();
        try {
          detail = await post("/console/api/topics/" + enc(name) + "/configs", { set: { [cname.value.trim()]: cval.value } });
          drawConfigs(); drawDetail();
          notice(`${cname.value.trim()} set to ${cval.value}.`);
        } catch (e) { showError(explain(e)); }
      });
      root.append(aform);
      root.append(h("p", {}, h("button", { type: "button", class: "danger", testid: "topic-delete", text: "Delete this topic",
        onclick: () => deleteTopic(name, null) })));
    }
    loaded(root);
    every(2000, async () => {
      const d = await api("/console/api/topics/" + enc(name));
      if (gen !== S.gen || JSON.stringify(d) === JSON.stringify(detail)) return;
      detail = d;
      drawDetail();
    });
  }

  // -- groups --------------------------------------------------------------------------------------
  async function groups() {
    const root = pageRoot("groups", "Consumer groups");
    const gen = S.gen;
    const t = table("groups-table", "Consumer groups", ["Group", "Type", "State", { label: "Members", num: 1 },
      { label: "Lag", num: 1 }, "Topics"]);
    root.append(t.wrap);
    let lastGroups = "";
    async function load() {
      const o = await api("/console/api/groups");
      if (gen !== S.gen) return;
      // Redrawn only when something changed: a redraw would take the keyboard focus away.
      const sig = JSON.stringify(o.groups);
      if (sig === lastGroups) return;
      lastGroups = sig;
      t.tbody.replaceChildren(...o.groups.map(g => h("tr", { testid: "group-row", dataset: { group: g.group_id } },
        h("th", { scope: "row" }, h("a", { href: "#/groups/" + enc(g.group_id), text: g.group_id })),
        h("td", { text: g.type }),
        h("td", { testid: "group-state", text: g.state }),
        h("td", { class: "num", testid: "group-members", text: num(g.members) }),
        h("td", { class: "num", testid: "group-lag", text: num(g.lag) }),
        h("td", { text: g.topics.join(", ") }))));
      if (!o.groups.length) t.tbody.append(h("tr", {}, h("td", { colspan: 6, text: "No consumer groups yet." })));
    }
    await load();
    loaded(root);
    every(2000, load);
  }

  async function group(gid) {
    const root = pageRoot("group", "Group");
    const gen = S.gen;
    root.querySelector("h1").replaceChildren("Group ", h("span", { testid: "group-id", text: gid }));
    const facts = h("dl", { class: "cards" });
    const fact = (testid, label) => { const dd = h("dd", { testid }); facts.append(h("div", {}, h("dt", { text: label }), dd)); return dd; };
    const fState = fact("group-state", "State"), fType = fact("group-type", "Type"), fProto = fact("group-protocol", "Assignor"),
      fMembers = fact("group-member-count", "Members"), fLag = fact("group-lag-total", "Total lag");
    root.append(facts);
    const mt = table("members-table", "Members", ["Member", "Client id", "Host", "Assigned partitions"]);
    const ot = table("offsets-table", "Offsets and lag per partition", ["Topic", { label: "Partition", num: 1 },
      { label: "Committed", num: 1 }, { label: "End offset", num: 1 }, { label: "Lag", num: 1 }, "Member"]);
    root.append(h("h2", { text: "Members" }), mt.wrap, h("h2", { text: "Lag per partition" }), ot.wrap);
    const fig = h("figure", { class: "chart" }, h("figcaption", { text: "Total lag, last 15 minutes" }));
    root.append(h("h2", { text: "Lag over time" }), h("div", { class: "charts" }, fig));
    const chart = ChronikChart.create(fig, { title: "Total lag of " + gid, unit: "messages", testid: "chart-lag",
      series: [{ key: "lag", label: "lag", color: "#a4161a" }] });
    let topicsSeen = [];
    let resetTopic = null;
    let lastGroup = "";
    async function load() {
      const g = await api("/console/api/groups/" + enc(gid));
      if (gen !== S.gen) return;
      const sig = JSON.stringify(g);
      if (sig === lastGroup) return;
      lastGroup = sig;
      fState.textContent = g.state;
      fType.textContent = g.type;
      fProto.textContent = g.protocol || "–";
      fMembers.textContent = num(g.members.length);
      fLag.textContent = num(g.lag);
      mt.tbody.replaceChildren(...g.members.map(m => h("tr", { testid: "member-row", dataset: { member: m.member_id } },
        h("td", {}, h("code", { text: m.member_id })), h("td", { text: m.client_id }), h("td", { text: m.client_host }),
        h("td", { text: m.assignment.map(a => `${a.topic} [${a.partitions.join(", ")}]`).join("; ") || "–" }))));
      if (!g.members.length) mt.tbody.append(h("tr", {}, h("td", { colspan: 4, text: "No members: the group is empty." })));
      ot.tbody.replaceChildren(...g.offsets.map(o => h("tr", { testid: "offset-row", dataset: { topic: o.topic, partition: o.partition } },
        h("td", {}, h("a", { href: "#/topics/" + enc(o.topic), text: o.topic })),
        h("td", { class: "num", text: o.partition }),
        h("td", { class: "num", testid: "offset-committed", text: num(o.committed) }),
        h("td", { class: "num", testid: "offset-end", text: num(o.end_offset) }),
        h("td", { class: "num", testid: "lag-cell", text: num(o.lag) }),
        h("td", {}, o.member_id ? h("code", { text: o.member_id }) : "–"))));
      const ts = [...new Set(g.offsets.map(o => o.topic))];
      if (resetTopic && ts.join() !== topicsSeen.join()) {
        const keep = resetTopic.value;
        resetTopic.replaceChildren(h("option", { value: "", text: "all committed topics" }), ...ts.map(t => h("option", { value: t, text: t })));
        if (ts.includes(keep)) resetTopic.value = keep;
      }
      topicsSeen = ts;
    }
    async function lagHistory() {
      const o = await api("/console/api/groups/" + enc(gid) + "/lag-history");
      if (gen !== S.gen) return;
      chart.update(o.points);
    }
    await load();
    if (canWrite()) {
      resetTopic = h("select", {}, h("option", { value: "", text: "all committed topics" }), ...topicsSeen.map(t => h("option", { value: t, text: t })));
      const to = h("select", {}, [["start", "earliest offset (start)"], ["end", "latest offset (end)"], ["offset", "an offset"], ["time", "a time"]]
        .map(([v, l]) => h("option", { value: v, text: l })));
      const off = h("input", { type: "number", min: 0, value: 0 });
      const time = h("input", { type: "datetime-local", step: 1 });
      const form = h("form", { class: "panel", testid: "reset-form", "aria-labelledby": "h-reset" },
        h("h2", { id: "h-reset", text: "Reset offsets" }),
        h("p", { class: "muted", text: "Only for a group without members (Empty), as kafka-consumer-groups --reset-offsets." }),
        h("div", { class: "form-row" },
          field("reset-topic", "Topic", resetTopic),
          field("reset-to", "Reset to", to),
          field("reset-offset", "Offset", off),
          field("reset-time", "Time (UTC)", time),
          h("button", { type: "submit", testid: "reset-submit", text: "Reset offsets" })));
      form.addEventListener("submit", async ev => {
        ev.preventDefault();
        clearError();
        const body = { to: to.value };
        if (resetTopic.value) body.topic = resetTopic.value;
        if (to.value === "offset") body.offset = +off.value;
        if (to.value === "time") {
          if (!time.value) { showError("Pick a time to reset to."); return; }
          body.time = new Date(time.value + "Z").getTime();
        }
        try {
          const r = await post("/console/api/groups/" + enc(gid) + "/reset", body);
          notice("Offsets reset: " + r.offsets.map(o => `${o.topic}-${o.partition} → ${o.offset}`).join(", "));
          await load();
        } catch (e) { showError(explain(e)); }
      });
      root.append(form);
    }
    await lagHistory();
    loaded(root);
    every(2000, load);
    every(2000, lagHistory);
  }

  // -- schemas -------------------------------------------------------------------------------------
  async function schemas() {
    const root = pageRoot("schemas", "Schemas");
    const o = await api("/console/api/schemas");
    root.append(h("p", {}, "Global compatibility level: ", h("strong", { testid: "global-compatibility", text: o.compatibility }),
      " · mode ", h("strong", { text: o.mode })));
    const t = table("subjects-table", "Subjects", ["Subject", "Type", "Versions", { label: "Latest id", num: 1 }, "Compatibility"]);
    t.tbody.replaceChildren(...o.subjects.map(s => h("tr", { testid: "subject-row", dataset: { subject: s.subject } },
      h("th", { scope: "row" }, h("a", { href: "#/schemas/" + enc(s.subject), text: s.subject })),
      h("td", { text: s.type }),
      h("td", { text: s.versions.join(", ") }),
      h("td", { class: "num", text: s.latest_id }),
      h("td", { text: s.compatibility }))));
    if (!o.subjects.length) t.tbody.append(h("tr", {}, h("td", { colspan: 5, text: "No schemas registered." })));
    root.append(t.wrap);
    loaded(root);
  }

  function lineDiff(a, b) {
    // Longest common subsequence of lines: schemas are short (a few hundred lines at most).
    const x = a.split("\n"), y = b.split("\n");
    const n = x.length, m = y.length;
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
      L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const out = [];
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) { out.push([" ", x[i]]); i++; j++; }
      else if (L[i + 1][j] >= L[i][j + 1]) out.push(["-", x[i++]]);
      else out.push(["+", y[j++]]);
    }
    while (i < n) out.push(["-", x[i++]]);
    while (j < m) out.push(["+", y[j++]]);
    return out;
  }

  async function subject(name) {
    const root = pageRoot("subject", "Subject");
    root.querySelector("h1").replaceChildren("Subject ", h("span", { testid: "subject-name", text: name }));
    const o = await api("/console/api/schemas/" + enc(name));
    root.append(h("p", {}, "Compatibility: ", h("strong", { testid: "subject-compatibility", text: o.compatibility }),
      o.compatibility_is_default ? " (the global level)" : " (set for this subject)"));
    const opts = () => o.versions.map(v => h("option", { value: v.version, text: `version ${v.version} (id ${v.id}, ${v.type})` }));
    const left = h("select", {}, opts()), right = h("select", {}, opts());
    if (o.versions.length > 1) left.value = String(o.versions[o.versions.length - 2].version);
    right.value = String(o.versions[o.versions.length - 1].version);
    root.append(h("form", { class: "inline", "aria-label": "Versions to compare", onsubmit: ev => ev.preventDefault() },
      field("diff-left", "Left", left), field("diff-right", "Right", right)));
    const preL = h("pre", { testid: "schema-left", tabindex: "0", "aria-label": "Left version" });
    const preR = h("pre", { testid: "schema-right", tabindex: "0", "aria-label": "Right version" });
    const diff = h("div", { class: "diff", testid: "schema-diff", tabindex: "0", role: "region", "aria-label": "Differences" });
    root.append(h("div", { class: "sbs" }, preL, preR), h("h2", { text: "Differences" }), diff);
    function draw() {
      const a = o.versions.find(v => String(v.version) === left.value);
      const b = o.versions.find(v => String(v.version) === right.value);
      preL.textContent = a.schema;
      preR.textContent = b.schema;
      diff.replaceChildren(...lineDiff(a.schema, b.schema).map(([op, line]) =>
        h("div", { class: op === "+" ? "add" : op === "-" ? "del" : null, testid: op === "+" ? "diff-add" : op === "-" ? "diff-del" : null,
          text: op + " " + line })));
    }
    left.addEventListener("change", draw);
    right.addEventListener("change", draw);
    draw();
    loaded(root);
  }

  // -- start ---------------------------------------------------------------------------------------
  async function start() {
    try {
      S.session = await api("/console/api/session");
    } catch (e) {
      showError("Cannot reach the broker: " + explain(e));
      return;
    }
    renderWho();
    $("#logout").addEventListener("click", async () => {
      try { await post("/console/api/logout", {}); } catch (e) { /* the session is gone anyway */ }
      S.session = await api("/console/api/session");
      renderWho();
      route();
    });
    window.addEventListener("hashchange", () => { route(); $("#main").focus({ preventScroll: true }); });
    route();
  }
  document.addEventListener("DOMContentLoaded", start);
})();

"use strict";
// harness view: one page, hash routes, DOM built with textContent only (model text is never parsed as HTML).
const D = JSON.parse(document.getElementById("data").textContent);
const EXPORTED = D.mode === "export";
const main = document.getElementById("main");

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const pct = x => (x === null || x === undefined) ? "" : (100 * x).toFixed(1);
const num = (x, d) => (x === null || x === undefined) ? "" : Number(x).toFixed(d);
const sig = x => (x === null || x === undefined) ? "" : Number(x).toPrecision(3);
const budgetName = b => (b % 1024 === 0 ? `${b / 1024}k` : String(b));
const route = (...parts) => "#/" + parts.map(p => encodeURIComponent(p)).join("/");
const hasSamples = run => Object.prototype.hasOwnProperty.call(D.runs, run);
const topK = o => { const ks = Object.keys(o || {}).map(Number); if (!ks.length) return null;
                    const k = Math.max(...ks); return [k, o[String(k)]]; };

async function api(kind, params) {
  if (EXPORTED) {
    const key = kind === "compare" ? `${params.a}|${params.b}` : kind === "problem"
      ? `${params.run}|${params.task}|${params.problem}` : `${params.run}|${params.task}|${params.problem}|${params.idx}`;
    const store = {problem: D.problems, sample: D.samples, compare: D.compare}[kind];
    if (kind === "compare" && !(key in store)) {
      const flipped = `${params.b}|${params.a}`;
      if (flipped in store) return store[flipped].map(flip);
    }
    if (!(key in store)) throw new Error(kind === "sample"
      ? `this sample's text is not embedded in the export (it holds ${D.caps.max_samples} sample(s) per problem)`
      : `not embedded in this export`);
    return store[key];
  }
  const r = await fetch(`/api/${kind}?` + new URLSearchParams(params));
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
function flip(c) {
  return {...c, a: c.b, a_ci: c.b_ci, b: c.a, b_ci: c.a_ci, diff: c.diff === null ? null : -c.diff,
          lo: c.hi === undefined ? undefined : -c.hi, hi: c.lo === undefined ? undefined : -c.lo,
          verdict: c.verdict};  // a verdict names the better side by its label: unchanged by the flip
}

function show(...nodes) { main.replaceChildren(...nodes.flat(Infinity).filter(n => n !== null && n !== undefined)); }
function showError(err) { main.append(el("p", {class: "error", text: String(err.message || err)})); }

// ---------------------------------------------------------------- leaderboard
const LB_COLUMNS = [
  ["checkpoint", "label", r => r.label, "l"], ["task", "task", r => r.task, "l"], ["budget", "budget", r => r.budget],
  ["n", "n", r => r.n], ["problems", "problems", r => r.problems], ["avg@n %", "avg", r => pct(r.avg)],
  ["± SE", "se", r => pct(r.se)], ["95% CI", "ci_lo", r => r.ci_lo === null ? "" : `[${pct(r.ci_lo)}, ${pct(r.ci_hi)}]`],
  ["pass@k %", "pass", r => { const t = topK(r.pass_at_k); return t ? `${pct(t[1])} (k=${t[0]})` : ""; }],
  ["maj@k %", "maj", r => { const t = topK(r.maj_at_k); return t ? `${pct(t[1])} (k=${t[0]})` : ""; }],
  ["trunc %", "truncation_rate", r => pct(r.truncation_rate)], ["loop %", "repetition_rate", r => pct(r.repetition_rate)],
  ["acc not trunc %", "acc_untruncated", r => pct(r.acc_untruncated)], ["mean tokens", "mean_tokens", r => num(r.mean_tokens, 0)],
  ["think closed %", "think_closed_rate", r => pct(r.think_closed_rate)],
  ["s / solved", "seconds_per_solved", r => sig(r.seconds_per_solved)],
  ["device-s / solved", "device_seconds_per_solved", r => sig(r.device_seconds_per_solved)],
  ["run id", "run_id", r => r.run_id, "l"], ["date", "date", r => (r.date || "").slice(0, 10), "l"],
];
const lbState = {task: "", budget: "", checkpoint: "", curve: false, sort: "avg", asc: false};
const sortValue = (r, key) => key === "pass" ? (topK(r.pass_at_k) || [0, null])[1]
  : key === "maj" ? (topK(r.maj_at_k) || [0, null])[1] : r[key];

function viewLeaderboard() {
  const tasks = [...new Set(D.rows.map(r => r.task))].sort();
  const budgets = [...new Set(D.rows.map(r => r.budget))].sort((a, b) => a - b);
  const table = el("table", {id: "leaderboard"});
  const render = () => {
    let rows = D.rows.filter(r => (!lbState.task || r.task === lbState.task)
      && (!lbState.budget || r.budget === Number(lbState.budget)) && (lbState.curve || !r.curve_point)
      && (!lbState.checkpoint || (r.checkpoint || r.run_id).includes(lbState.checkpoint)));
    const key = lbState.sort;
    rows = rows.slice().sort((a, b) => {
      const x = sortValue(a, key), y = sortValue(b, key);
      if (x === y) return 0; if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * (lbState.asc ? 1 : -1);
    });
    const head = el("tr", {}, LB_COLUMNS.map(([name, k, , cls]) => el("th", {
      class: ["sortable", cls, k === key ? "sorted" : "", k === key && lbState.asc ? "asc" : ""].filter(Boolean).join(" "),
      onclick: () => { lbState.asc = lbState.sort === k ? !lbState.asc : false; lbState.sort = k; render(); },
    }, name)));
    const body = rows.map(r => el("tr", {class: "lb-row clickable", "data-run": r.run_id,
                                         onclick: () => { location.hash = route("run", r.run_id); }},
      LB_COLUMNS.map(([, , f, cls]) => el("td", {class: cls}, f(r)))));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, body));
  };
  const select = (name, values, label) => el("label", {}, label + " ", el("select", {
    id: `filter-${name}`, onchange: e => { lbState[name] = e.target.value; render(); }},
    el("option", {value: ""}, "all"), values.map(v => el("option", {value: v, selected: String(lbState[name]) === String(v)}, v))));
  show(el("h2", {}, "Leaderboard"),
       el("div", {class: "filters"}, select("task", tasks, "task"), select("budget", budgets, "budget"),
          el("label", {}, "checkpoint ", el("input", {id: "filter-checkpoint", value: lbState.checkpoint,
             oninput: e => { lbState.checkpoint = e.target.value; render(); }})),
          el("label", {}, el("input", {type: "checkbox", checked: lbState.curve,
             onchange: e => { lbState.curve = e.target.checked; render(); }}), " budget-curve points")),
       table,
       el("p", {class: "muted"}, "Click a column to sort, a row to open its run. loop %: samples whose response ends in ",
          "a repetition loop (harness.repetition). s / solved: generation wall time per correct sample; device-s: ",
          "the same times the devices used (hf, vllm backends)."));
  render();
}

// ---------------------------------------------------------------- a run and its problems
function viewRun(runId) {
  const rows = D.rows.filter(r => r.run_id === runId && !r.curve_point);
  const info = D.runs[runId];
  const out = [el("h2", {}, `Run ${runId}`)];
  const r0 = rows[0] || {};
  out.push(el("p", {}, `checkpoint ${(info && info.checkpoint) || r0.checkpoint || "?"}`,
              info ? ` · backend ${info.backend} · template ${info.template} · sampling ${JSON.stringify(info.sampling)}`
                     + ` · budgets ${info.budgets.join(", ")} · wall time ${info.wall_time_s ?? "?"} s on ${info.device ?? "?"}` : ""));
  if (!info) out.push(el("p", {class: "note"}, "This run is on the leaderboard but its samples are not in this results folder."));
  if (info && info.entropy.length) out.push(el("p", {}, "Token entropy analysed: ",
    info.entropy.map(id => el("a", {href: "#/entropy"}, id + " "))));
  const tasks = [...new Set(rows.map(r => r.task))].sort();
  for (const task of tasks) {
    const byBudget = rows.filter(r => r.task === task).sort((a, b) => a.budget - b.budget);
    const pids = byBudget[0].problem_ids || [];
    out.push(el("h3", {}, task),
      el("table", {class: "run-problems"},
        el("tr", {}, el("th", {class: "l"}, "problem"),
           byBudget.map(r => el("th", {}, `@${budgetName(r.budget)} (avg ${pct(r.avg)} %, loop ${pct(r.repetition_rate)} %)`))),
        pids.map((pid, i) => el("tr", {},
          el("td", {class: "l"}, info ? el("a", {class: "problem-link", href: route("problem", runId, task, pid)}, pid) : pid),
          byBudget.map(r => { const j = (r.problem_ids || []).indexOf(pid);
                              return el("td", {}, j < 0 ? "" : `${r.problem_correct[j]} / ${r.problem_n[j]}`); })))));
  }
  show(...out);
}

// ---------------------------------------------------------------- heatmap
function heatColour(x) { return `hsl(${Math.round(120 * x)}, 55%, ${x === 0 ? 45 : 38}%)`; }
function viewHeatmap(params) {
  const tasks = [...new Set(D.rows.map(r => r.task))].sort();
  const task = params.get("task") || tasks[0];
  const budgets = [...new Set(D.rows.filter(r => r.task === task && !r.curve_point).map(r => r.budget))].sort((a, b) => a - b);
  const budget = Number(params.get("budget") || budgets[budgets.length - 1]);
  const cols = D.rows.filter(r => r.task === task && r.budget === budget && !r.curve_point)
    .sort((a, b) => (a.label + a.run_id).localeCompare(b.label + b.run_id));
  const pids = [...new Set(cols.flatMap(r => r.problem_ids || []))].sort(
    (a, b) => a.localeCompare(b, undefined, {numeric: true}));
  const go = (t, b) => { location.hash = `#/heatmap?task=${encodeURIComponent(t)}&budget=${b}`; };
  const table = el("table", {class: "heat", id: "heatmap"},
    el("tr", {}, el("th", {class: "l"}, "problem"), cols.map(r => el("th", {title: r.run_id}, `${r.label} (${r.run_id.slice(0, 6)})`))),
    pids.map(pid => el("tr", {}, el("td", {class: "l"}, pid), cols.map(r => {
      const j = (r.problem_ids || []).indexOf(pid);
      if (j < 0) return el("td", {});
      const acc = r.problem_correct[j] / r.problem_n[j];
      const can = hasSamples(r.run_id);
      return el("td", {class: "cell" + (can ? "" : " nosamples"), style: `background:${heatColour(acc)}`,
                       "data-run": r.run_id, "data-problem": pid,
                       title: can ? `${pid}: ${r.problem_correct[j]} of ${r.problem_n[j]} correct; click for the samples`
                                  : "samples not in this results folder",
                       onclick: can ? () => { location.hash = route("problem", r.run_id, task, pid); } : null},
                `${r.problem_correct[j]}/${r.problem_n[j]}`);
    }))));
  show(el("h2", {}, `avg@n per problem, ${task} at ${budget} tokens`),
       el("div", {class: "filters"},
          el("label", {}, "task ", el("select", {onchange: e => go(e.target.value, "")},
             tasks.map(t => el("option", {value: t, selected: t === task}, t)))),
          el("label", {}, "budget ", el("select", {onchange: e => go(task, e.target.value)},
             budgets.map(b => el("option", {value: b, selected: b === budget}, b))))),
       cols.length ? table : el("p", {class: "muted"}, "no rows"),
       el("p", {class: "muted"}, "Cells: correct samples / samples of the problem; colour from red (0) to green (all)."));
}

// ---------------------------------------------------------------- one problem's samples
async function viewProblem(runId, task, pid) {
  show(el("h2", {}, `${task} ${pid} · run ${runId}`), el("p", {class: "muted"}, "loading samples..."));
  let p;
  try { p = await api("problem", {run: runId, task, problem: pid}); } catch (err) { return showError(err); }
  const budgets = p.requested.filter(b => p.budgets.includes(b));
  const table = el("table", {id: "samples"},
    el("tr", {}, el("th", {}, "sample"), budgets.map(b => el("th", {class: "l"}, `at ${budgetName(b)} (${b} tokens)`))),
    p.samples.map(s => el("tr", {class: "sample-row clickable", "data-idx": s.idx,
                                 onclick: () => { location.hash = route("sample", runId, task, pid, s.idx); }},
      el("td", {}, s.idx), budgets.map(b => el("td", {class: "l"}, verdictCell(s.at[String(b)]))))));
  show(el("h2", {}, `${task} ${pid} · run ${runId}`), el("p", {}, `gold answer ${p.samples.length ? p.samples[0].gold : "?"}`,
       ` · ${p.samples.length} samples · `, el("a", {href: route("run", runId)}, "back to the run")), table);
}
function verdictCell(a) {
  if (!a) return "";
  return [el("span", {class: `badge b-${a.status}`}, a.status), a.extracted === null ? "" : `${a.extracted} `,
          el("span", {class: "muted"}, `${a.response_tokens} tok `), flags(a), forcedFlag(a.forced)];
}
// A sample cut before it answered and made to answer at the cut (harness eval --force-answer): its forced verdict.
function forcedFlag(f) {
  if (!f) return null;
  return el("span", {class: `flag forced f-${f.status}`, title: "forced answer at this budget (--force-answer)"},
            `forced: ${f.status}${f.extracted === null ? "" : " " + f.extracted}`);
}
function flags(a) {
  return [a.truncated ? el("span", {class: "flag trunc"}, "truncated") : null,
          a.repetition_loop ? el("span", {class: "flag loop"}, "loop") : null,
          a.think_open ? el("span", {class: "flag think", title: "<think> without </think>"}, "think not closed") : null,
          a.answer_like ? el("span", {class: "flag answer-like", title: a.answer_like}, "answer-like text, not extracted") : null];
}

// ---------------------------------------------------------------- the sample reader
async function viewSample(runId, task, pid, idx) {
  show(el("h2", {}, `${task} ${pid} · sample ${idx}`), el("p", {class: "muted"}, "loading..."));
  let s;
  try { s = await api("sample", {run: runId, task, problem: pid, idx}); } catch (err) { return showError(err); }
  const out = [el("h2", {}, `${task} ${pid} · sample ${idx} · run ${runId}`),
               el("p", {}, `gold ${s.gold} · ${s.tokens} tokens generated · `,
                  el("a", {href: route("problem", runId, task, pid)}, "all samples of this problem"))];
  for (const n of s.notes) out.push(el("p", {class: "note"}, n));
  if (s.text_chars) out.push(el("p", {class: "note"}, `This export holds the first ${s.text.length} of ${s.text_chars} characters.`));
  out.push(el("details", {}, el("summary", {}, "prompt (click to unfold)"), el("div", {class: "prompt"}, s.prompt ?? "(not available)")));
  out.push(el("h3", {}, "At each scored budget"),
    el("table", {id: "budgets"}, el("tr", {}, ["budget", "tokens", "verdict", "extracted", "finish", "flags", "forced verdict"].map(h => el("th", {class: "l"}, h))),
      s.budgets.map(b => el("tr", {}, el("td", {}, b.budget + (b.curve_point ? " (curve)" : "")), el("td", {}, b.response_tokens),
        el("td", {class: "l"}, el("span", {class: `badge b-${b.status}`}, b.status)), el("td", {class: "l"}, b.extracted ?? "—"),
        el("td", {class: "l"}, b.finish_reason), el("td", {class: "l"}, flags(b),
          b.status === "no_answer" ? el("span", {class: "flag"}, "no answer") : null),
        el("td", {class: "l forced-verdict"}, b.forced ? [el("span", {class: `badge b-${b.forced.status}`}, b.forced.status),
          ` ${b.forced.extracted ?? "—"}`] : "—")))));
  if (s.loop) out.push(el("p", {class: "note"}, `The response ends in a repetition loop: a block of ${s.loop.period} token(s) `
    + `repeated from token ${s.loop.start_token} to the end (${s.tokens - s.loop.start_token} tokens).`));
  out.push(el("h3", {}, "Chain (markers: where each scored budget cut it; a forced answer, boxed in dashes, was "
    + "appended at its cut by --force-answer and is not part of the sample)"), chainView(s));
  for (const e of s.entropy) out.push(entropyView(s, e));
  show(...out);
}

function chainView(s) {
  const text = s.text;
  const marks = [];
  // a budget's cut, and where a forced answer was appended to it (the end of the text for the last budget)
  for (const b of s.budgets) if ((b.cut && b.offset !== null) || (b.forced && !b.cut)) marks.push({at: b.cut ? b.offset : text.length, node: () => el("span", {},
    b.cut ? el("span", {class: "cut" + (b.curve_point ? " curve" : ""), "data-budget": b.budget,
                title: `budget ${b.budget}: ${b.status}${b.extracted ? " " + b.extracted : ""}`}, `✂ ${budgetName(b.budget)}`) : null,
    b.forced ? el("span", {class: "forced-tail", "data-budget": b.budget,
                           title: `forced at ${b.budget} tokens: ${b.forced.tokens} token(s) appended, ${b.forced.prefix_tokens} of `
                                  + `them the fixed prefix; verdict ${b.forced.status}`}, b.forced.tail) : null)});
  if (s.loop && s.loop.start_offset !== null) marks.push({at: s.loop.start_offset, node: () =>
    el("span", {class: "loop-start"}, `⟳ loop (period ${s.loop.period})`)});
  marks.sort((a, b) => a.at - b.at);
  const unplaced = s.budgets.filter(b => b.cut && (b.offset === null || b.offset > text.length));
  const fill = (parent, from, to) => {
    let pos = from;
    for (const m of marks) {
      if (m.at < from || m.at >= to) continue;
      if (m.at > pos) parent.append(text.slice(pos, m.at));
      parent.append(m.node()); pos = m.at;
    }
    if (to > pos) parent.append(text.slice(pos, to));
    if (to === text.length) marks.filter(m => m.at === to).forEach(m => parent.append(m.node()));
  };
  const box = el("div", {class: "chain", id: "chain"});
  if (s.think) {
    const [a, b] = [Math.min(s.think[0], text.length), Math.min(s.think[1], text.length)];
    fill(box, 0, a);
    const inside = marks.filter(m => m.at >= a && m.at < b).length;
    const body = el("div", {});
    fill(body, a, b);
    box.append(el("details", {class: "think"}, el("summary", {},
      `think block: ${b - a} characters${inside ? `, ${inside} marker(s) inside` : ""} (click to unfold)`), body));
    fill(box, b, text.length);
  } else fill(box, 0, text.length);
  return [unplaced.length ? el("p", {class: "note"}, "Cuts not placed in the text: "
    + unplaced.map(b => `${b.budget} tokens`).join(", ")) : null, box];
}

function entropyColour(h, threshold) {
  const scale = Math.max(threshold || 1, 1e-6) * 2;
  const a = Math.min(1, h / scale);
  return `rgba(255, ${Math.round(160 - 100 * a)}, 0, ${(0.08 + 0.72 * a).toFixed(3)})`;
}
function entropyView(s, e) {
  const info = D.entropy[e.analysis] || {};
  const cuts = new Map(s.budgets.filter(b => b.cut).map(b => [b.budget, b]));
  const box = el("div", {class: "chain entropy-chain"});
  const frag = document.createDocumentFragment();
  e.tokens.forEach(([t, h, top], i) => {
    if (cuts.has(i)) frag.append(el("span", {class: "cut", "data-budget": i}, `✂ ${budgetName(i)}`));
    frag.append(el("span", {class: "tok" + (top ? " top" : ""), style: `background:${entropyColour(h, e.threshold)}`,
                            title: `H = ${h}`}, t));
  });
  box.append(frag);
  const table = el("table", {class: "forking"}, el("tr", {}, ["#", "token", "in top", "mean H there", "share in top"]
    .map(h => el("th", {}, h))), (info.forking || []).map((r, i) => el("tr", {}, el("td", {}, i + 1),
      el("td", {class: "l"}, r.token), el("td", {}, r.top_count), el("td", {}, num(r.mean_entropy, 3)), el("td", {}, pct(r.top_rate)))));
  return [el("h3", {}, `Token entropy (${e.analysis}): top ${Math.round(100 * (e.rho || 0.2))} % marked (H ≥ ${num(e.threshold, 3)})`),
          e.token_count ? el("p", {class: "note"}, `This export holds ${e.tokens.length} of ${e.token_count} tokens.`) : null,
          el("div", {class: "split"}, box, el("div", {}, el("strong", {}, "Forking tokens of the analysis"), table))];
}

// ---------------------------------------------------------------- accuracy vs budget
function viewCurve() {
  const tasks = [...new Set(D.rows.map(r => r.task))].sort();
  const out = [el("h2", {}, "Accuracy vs budget (avg@n, 95% bootstrap CI)")];
  const palette = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e", "#ad1457"];
  for (const task of tasks) {
    const rows = D.rows.filter(r => r.task === task);
    const runs = [...new Set(rows.map(r => r.run_id))].sort();
    const W = 640, H = 300, L = 50, R = 20, T = 15, B = 40;
    const bx = rows.map(r => r.budget), maxB = Math.max(...bx), minB = 0;
    const x = b => L + (W - L - R) * (b - minB) / (maxB - minB || 1);
    const y = v => T + (H - T - B) * (1 - v);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("class", "curve");
    const add = (tag, attrs, text) => { const e = document.createElementNS(svg.namespaceURI, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; svg.append(e); return e; };
    add("line", {x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#999"}); add("line", {x1: L, y1: y(0), x2: L, y2: y(1), stroke: "#999"});
    for (const v of [0, 0.25, 0.5, 0.75, 1]) { add("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, `${100 * v}%`);
      add("line", {x1: L, y1: y(v), x2: W - R, y2: y(v), stroke: "#eee"}); }
    for (const b of [...new Set(rows.filter(r => !r.curve_point).map(r => r.budget))])
      add("text", {x: x(b), y: H - B + 16, "text-anchor": "middle"}, budgetName(b));
    add("text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle"}, "max response tokens");
    const legend = el("div", {class: "legend"});
    runs.forEach((run, i) => {
      const c = palette[i % palette.length];
      const pts = rows.filter(r => r.run_id === run).sort((a, b) => a.budget - b.budget);
      add("polyline", {points: pts.map(r => `${x(r.budget)},${y(r.avg)}`).join(" "), fill: "none", stroke: c, "stroke-width": 2});
      for (const r of pts) {
        if (r.ci_lo !== null) add("line", {x1: x(r.budget), x2: x(r.budget), y1: y(r.ci_lo), y2: y(r.ci_hi), stroke: c, opacity: 0.4});
        add("circle", {cx: x(r.budget), cy: y(r.avg), r: r.curve_point ? 2 : 4, fill: c}).append(
          Object.assign(document.createElementNS(svg.namespaceURI, "title"), {textContent: `${r.budget}: ${pct(r.avg)} %`}));
      }
      legend.append(el("span", {style: `color:${c}`}, `■ ${pts[0].label} (${run.slice(0, 6)})`));
    });
    out.push(el("h3", {}, task), svg, legend);
  }
  show(...out);
}

// ---------------------------------------------------------------- paired comparison
async function viewCompare(params) {
  const labels = D.labels;
  const a = params.get("a") || labels[0], b = params.get("b") || labels[1] || labels[0];
  const go = (x, y) => { location.hash = `#/compare?a=${encodeURIComponent(x)}&b=${encodeURIComponent(y)}`; };
  const pick = (value, onchange) => el("select", {onchange}, labels.map(l => el("option", {value: l, selected: l === value}, l)));
  const head = [el("h2", {}, "Paired comparison"), el("div", {class: "filters"},
    el("label", {}, "A ", pick(a, e => go(e.target.value, b))), el("label", {}, "B ", pick(b, e => go(a, e.target.value))))];
  if (labels.length < 2) return show(...head, el("p", {class: "muted"}, "Only one checkpoint on the leaderboard."));
  show(...head, el("p", {class: "muted"}, "computing..."));
  let rows;
  try { rows = await api("compare", {a, b}); } catch (err) { show(...head); return showError(err); }
  show(...head, el("table", {id: "compare"},
    el("tr", {}, ["task", "budget", "A avg@n % [95% CI]", "B avg@n % [95% CI]", "A − B pts [95% CI]", "problems", "verdict"].map(h => el("th", {}, h))),
    rows.map(r => el("tr", {}, el("td", {class: "l"}, r.task), el("td", {}, r.budget),
      el("td", {}, `${pct(r.a)} [${pct(r.a_ci[0])}, ${pct(r.a_ci[1])}]`), el("td", {}, `${pct(r.b)} [${pct(r.b_ci[0])}, ${pct(r.b_ci[1])}]`),
      el("td", {}, r.diff === null ? "" : `${(100 * r.diff).toFixed(1)} [${(100 * r.lo).toFixed(1)}, ${(100 * r.hi).toFixed(1)}]`),
      el("td", {}, r.problems ?? ""), el("td", {class: "l"}, r.verdict)))),
    el("p", {class: "muted"}, "Paired bootstrap over the problems both scored (10,000 resamples, seed 0), as `harness compare`."));
}

// ---------------------------------------------------------------- entropy analyses
function viewEntropy() {
  const out = [el("h2", {}, "Token entropy analyses (harness entropy)")];
  const ids = Object.keys(D.entropy);
  if (!ids.length) out.push(el("p", {class: "muted"}, "No `harness entropy` output in this results folder."));
  for (const id of ids) {
    const e = D.entropy[id], a = e.all || {};
    const img = EXPORTED ? (D.histograms || {})[id] : (e.histogram ? `/files/${id.split("/").map(encodeURIComponent).join("/")}/histogram.png` : null);
    out.push(el("h3", {}, id), el("p", {}, `runs ${e.run_ids.join(", ")} · ${a.tokens} tokens · H < 0.01: ${pct(a["share_below_0.01"])} % · `
      + `p80 ${num(a.p80, 3)} (paper, Qwen3-8B: 0.672) · top ${Math.round(100 * (e.rho || 0.2))} % from H ≥ ${num(e.threshold, 3)}`),
      el("div", {class: "split"}, img ? el("img", {src: img, alt: "entropy histogram", width: 480}) : null,
        el("table", {class: "forking"}, el("tr", {}, ["#", "token", "in top", "mean H there", "occurrences", "share in top"].map(h => el("th", {}, h))),
          e.forking.map((r, i) => el("tr", {}, el("td", {}, i + 1), el("td", {class: "l"}, r.token), el("td", {}, r.top_count),
            el("td", {}, num(r.mean_entropy, 3)), el("td", {}, r.occurrences), el("td", {}, pct(r.top_rate)))))),
      el("p", {class: "muted"}, "Open a sample of these runs to see its chain coloured by entropy."));
  }
  show(...out);
}

// ---------------------------------------------------------------- routing
function dispatch() {
  const hash = location.hash.slice(1) || "/leaderboard";
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  document.querySelectorAll("#nav a").forEach(a => a.classList.toggle("active", a.getAttribute("href") === "#/" + parts[0]));
  window.scrollTo(0, 0);
  switch (parts[0]) {
    case "heatmap": return viewHeatmap(params);
    case "curve": return viewCurve();
    case "compare": return viewCompare(params);
    case "entropy": return viewEntropy();
    case "run": return viewRun(parts[1]);
    case "problem": return viewProblem(parts[1], parts[2], parts[3]);
    case "sample": return viewSample(parts[1], parts[2], parts[3], Number(parts[4]));
    default: return viewLeaderboard();
  }
}
document.getElementById("source").textContent = (EXPORTED ? "exported from " : "serving ") + D.root;
if (EXPORTED) {
  const c = D.caps, caps = document.getElementById("caps");
  caps.hidden = false;
  caps.textContent = `Exported page: it embeds the text of at most ${c.max_samples} sample(s) per problem and run `
    + `(${c.embedded} of ${c.total} samples), each cut to ${c.max_chars} characters, and paired comparisons among `
    + `${c.compare_labels} of ${c.labels} checkpoints. Serve the results folder with \`harness view\` to see everything.`;
}
window.addEventListener("hashchange", dispatch);
dispatch();

// chainrule playground: the page. Plain JavaScript and canvas/SVG, no library.
// The server (chainrule.playground.server) trains the network; this page sends the
// settings and draws the frames it streams (Server-Sent Events).
"use strict";

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const SPEEDS = [[1, "1 epoch/s"], [3, "3 epochs/s"], [10, "10 epochs/s"], [30, "30 epochs/s"],
  [100, "100 epochs/s"], [0, "as fast as it goes"]];
const ACTIVATIONS = [["tanh", "Tanh"], ["relu", "ReLU"], ["sigmoid", "Sigmoid"], ["linear", "Linear"],
  ["leaky_relu", "Leaky ReLU"], ["gelu", "GELU"]];
const DATASETS = [["circle", "Circle"], ["xor", "Exclusive or"], ["gauss", "Gaussian"],
  ["spiral", "Spiral"], ["plane", "Plane (regression)"], ["multigauss", "Multi Gaussian (regression)"]];
const FEATURES = [["x1", "X\u2081"], ["x2", "X\u2082"], ["x1sq", "X\u2081\u00b2"], ["x2sq", "X\u2082\u00b2"],
  ["x1x2", "X\u2081X\u2082"], ["sinx1", "sin(X\u2081)"], ["sinx2", "sin(X\u2082)"]];
const MAX_LAYERS = 6, MAX_NEURONS = 8;
const CLASS_COLORS = ["#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];
const NUMBER_KEYS = ["noise", "train_percent", "batch_size", "learning_rate", "reg_rate", "seed", "speed"];
const LIST_KEYS = ["hidden", "features", "inputs"];

const $ = (id) => document.getElementById(id);
const state = {
  session: null, config: null, setup: null, frame: null, history: [], generation: -1,
  chosenNeuron: null, chosenEdge: null, chosenPoint: null, stream: null, table: null,
};

// ------------------------------------------------------------------ colours

function hex(c) { return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)]; }
const ORANGE = hex("#f59322"), WHITE = hex("#e8eaeb"), BLUE = hex("#0877bd");
// byte b in 0..255 stands for t = b / 127.5 - 1 in [-1, 1]: orange, white, blue
const LUT = new Uint8ClampedArray(256 * 3);
for (let b = 0; b < 256; b++) {
  const t = b / 127.5 - 1;
  const [from, to, u] = t < 0 ? [WHITE, ORANGE, -t] : [WHITE, BLUE, t];
  for (let k = 0; k < 3; k++) LUT[b * 3 + k] = from[k] + (to[k] - from[k]) * u;
}
function colorOf(t) {
  const b = Math.max(0, Math.min(255, Math.round((t + 1) * 127.5)));
  return `rgb(${LUT[b * 3]},${LUT[b * 3 + 1]},${LUT[b * 3 + 2]})`;
}
function decode(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// ------------------------------------------------------------------ the server

async function api(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
  if (!response.ok) {
    const error = new Error(data.error || `the server answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.classList.toggle("hidden", !message);
}

// ------------------------------------------------------------------ settings in the URL

function configFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const config = {};
  for (const [key, value] of params) {
    if (NUMBER_KEYS.includes(key)) config[key] = Number(value);
    else if (LIST_KEYS.includes(key)) {
      const parts = value === "" ? [] : value.split(",");
      config[key] = key === "hidden" ? parts.map(Number) : parts;
    } else config[key] = value;
  }
  return config;
}

function writeHash() {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state.config)) {
    if (value === null || value === undefined) continue;
    params.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  history.replaceState(null, "", "#" + params.toString());
}

// ------------------------------------------------------------------ starting

async function start() {
  buildStaticControls();
  let config = configFromHash();
  try {
    await newSession(config);
  } catch (error) {
    showError(`The settings in the address were refused: ${error.message}. Starting from the defaults.`);
    await newSession({});
  }
  loadThumbnails();
}

async function newSession(config) {
  const data = await api("/api/session", { config });
  state.session = data.session;
  applySetup(data);
  openStream();
}

function openStream() {
  if (state.stream) state.stream.close();
  const stream = new EventSource(`/api/stream?session=${encodeURIComponent(state.session)}`);
  state.stream = stream;
  stream.onmessage = (event) => onFrame(JSON.parse(event.data));
  stream.onerror = () => {
    if (stream.readyState === EventSource.CLOSED) {
      // the session ended (server restarted, too many pages): start a new one
      setTimeout(() => newSession(state.config).catch((e) => showError(e.message)), 1000);
    }
  };
}

function applySetup(data) {
  const rebuilt = data.generation !== state.generation || !state.setup;
  state.config = data.config;
  state.setup = data;
  state.table = data.table;
  if (rebuilt) {
    state.generation = data.generation;
    state.history = [];
    state.chosenNeuron = null;
    state.chosenEdge = null;
    state.chosenPoint = null;
    $("trace").innerHTML = '<p class="hint">No point chosen yet.</p>';
  }
  syncControls();
  buildNetwork();
  writeHash();
  if (state.pending && state.pending.generation === state.generation) {
    const frame = state.pending;
    state.pending = null;
    onFrame(frame);
  } else if (state.frame) drawFrame();
}

async function configure(change) {
  const config = { ...state.config, ...change };
  state.busy = true;
  try {
    const data = await api("/api/config", { session: state.session, config });
    showError("");
    applySetup(data);
  } catch (error) {
    showError(error.message);
    syncControls();
  } finally {
    state.busy = false;
  }
}

async function control(action) {
  state.busy = true;
  try {
    const data = await api("/api/control", { session: state.session, action });
    setPlaying(data.playing);
    if (data.generation !== state.generation) applySetup(data);
    showError("");
  } catch (error) {
    showError(error.message);
  } finally {
    state.busy = false;
  }
}

function setPlaying(playing) {
  const button = $("play");
  button.classList.toggle("playing", playing);
  button.innerHTML = playing ? "&#10074;&#10074;" : "&#9654;";
  button.dataset.playing = playing ? "1" : "0";
}

// ------------------------------------------------------------------ controls

function fillSelect(select, options, format) {
  select.innerHTML = "";
  for (const option of options) {
    const [value, label] = Array.isArray(option) ? option : [option, format ? format(option) : String(option)];
    const element = document.createElement("option");
    element.value = String(value);
    element.textContent = label;
    select.appendChild(element);
  }
}

function buildStaticControls() {
  fillSelect($("learning-rate"), LEARNING_RATES);
  fillSelect($("activation"), ACTIVATIONS);
  fillSelect($("reg-rate"), REG_RATES);
  fillSelect($("speed"), SPEEDS);
  $("speed").onchange = (e) => configure({ speed: Number(e.target.value) });
  $("learning-rate").onchange = (e) => configure({ learning_rate: Number(e.target.value) });
  $("activation").onchange = (e) => configure({ activation: e.target.value });
  $("optimizer").onchange = (e) => configure({ optimizer: e.target.value });
  $("regularization").onchange = (e) => configure({ regularization: e.target.value });
  $("reg-rate").onchange = (e) => configure({ reg_rate: Number(e.target.value) });
  for (const [id, key, suffix] of [["train-percent", "train_percent", "%"], ["noise", "noise", ""], ["batch-size", "batch_size", ""]]) {
    const input = $(id);
    input.oninput = () => { $(`${id}-value`).textContent = input.value + suffix; };
    input.onchange = () => configure({ [key]: Number(input.value) });
  }
  $("play").onclick = () => control($("play").dataset.playing === "1" ? "pause" : "play");
  $("step").onclick = () => control("step");
  $("reset").onclick = () => control("reset");
  $("regenerate").onclick = () => configure({ seed: (state.config.seed + 1) % 4294967296 });
  $("add-layer").onclick = () => {
    const hidden = state.config.hidden;
    if (hidden.length < MAX_LAYERS) configure({ hidden: [...hidden, 2] });
  };
  $("remove-layer").onclick = () => {
    const hidden = state.config.hidden;
    if (hidden.length > 0) configure({ hidden: hidden.slice(0, -1) });
  };
  $("show-test").onchange = () => drawMap();
  $("discretize").onchange = () => drawMap();
  $("map").onclick = onMapClick;
  $("csv-file").onchange = onUpload;
  $("csv-use").onclick = useCsvColumns;
  for (const id of ["csv-x", "csv-y", "csv-target"]) $(id).onchange = renderCsvInputs;
  $("export-command").onclick = showCommand;
  setPlaying(false);
}

function syncControls() {
  const c = state.config;
  $("learning-rate").value = String(c.learning_rate);
  if ($("learning-rate").value !== String(c.learning_rate)) {
    fillSelect($("learning-rate"), [...new Set([...LEARNING_RATES, c.learning_rate])].sort((a, b) => a - b));
    $("learning-rate").value = String(c.learning_rate);
  }
  $("activation").value = c.activation;
  $("optimizer").value = c.optimizer;
  $("regularization").value = c.regularization;
  $("reg-rate").value = String(c.reg_rate);
  $("speed").value = String(c.speed);
  $("train-percent").value = c.train_percent;
  $("train-percent-value").textContent = c.train_percent + "%";
  $("noise").value = c.noise;
  $("noise-value").textContent = c.noise;
  $("batch-size").value = c.batch_size;
  $("batch-size-value").textContent = c.batch_size;
  $("problem").textContent = c.task === "classify" ? "Classification" : "Regression";
  const n = c.hidden.length;
  $("layer-count").textContent = `${n} HIDDEN LAYER${n === 1 ? "" : "S"}`;
  for (const canvas of document.querySelectorAll(".datasets canvas")) {
    canvas.classList.toggle("selected", canvas.dataset.name === c.dataset);
  }
  $("download-data").href = `/api/export?session=${encodeURIComponent(state.session)}&what=data`;
  $("download-model").href = `/api/export?session=${encodeURIComponent(state.session)}&what=model`;
  syncCsvPanel();
}

// ------------------------------------------------------------------ data sets

async function loadThumbnails() {
  const response = await fetch("/api/datasets");
  const sets = await response.json();
  const box = $("datasets");
  box.innerHTML = "";
  for (const [group, names] of [["Classification", DATASETS.slice(0, 4)], ["Regression", DATASETS.slice(4)]]) {
    const title = document.createElement("div");
    title.className = "group";
    title.textContent = group;
    box.appendChild(title);
    for (const [name, label] of names) {
      const canvas = document.createElement("canvas");
      canvas.width = 60; canvas.height = 60;
      canvas.title = label; canvas.dataset.name = name; canvas.id = `dataset-${name}`;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#f4f4f4"; ctx.fillRect(0, 0, 60, 60);
      for (const [x, y, t] of sets[name]) {
        ctx.fillStyle = name === "plane" || name === "multigauss" ? colorOf(t) : (t > 0.5 ? "#0877bd" : "#f59322");
        ctx.fillRect((x + 6) / 12 * 60 - 1, (6 - y) / 12 * 60 - 1, 2.5, 2.5);
      }
      canvas.onclick = () => configure({ dataset: name });
      box.appendChild(canvas);
    }
  }
  syncControls();
}

// ------------------------------------------------------------------ your CSV

function onUpload(event) {
  const file = event.target.files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = async () => {
    try {
      const data = await api("/api/upload", { session: state.session, name: file.name, text: reader.result });
      state.table = data.table;
      showError("");
      syncCsvPanel(data.suggested);
      await configure({ ...data.suggested, inputs: [] });
    } catch (error) {
      showError(error.message);
    }
    event.target.value = "";
  };
  reader.onerror = () => showError(`could not read ${file.name}`);
  reader.readAsText(file);
}

function syncCsvPanel(suggested) {
  const table = state.table;
  $("csv-panel").classList.toggle("hidden", !table);
  if (!table) return;
  const c = suggested || (state.config.dataset === "csv" ? state.config : null) || {};
  const dropped = state.setup && state.config.dataset === "csv" ? state.setup.data.dropped : 0;
  $("csv-name").textContent = `${table.name}: ${table.rows} rows` +
    (dropped ? ` (${dropped} with a missing value left out)` : "");
  const numeric = table.columns.filter((col) => col.numeric).map((col) => col.name);
  const all = table.columns.map((col) => col.name);
  fillSelect($("csv-x"), numeric);
  fillSelect($("csv-y"), numeric);
  fillSelect($("csv-target"), all);
  if (c.x_column) $("csv-x").value = c.x_column;
  if (c.y_column) $("csv-y").value = c.y_column;
  if (c.target) $("csv-target").value = c.target;
  if (c.task) $("csv-task").value = c.task;
  renderCsvInputs();
}

function renderCsvInputs() {
  const table = state.table;
  if (!table) return;
  const used = [$("csv-x").value, $("csv-y").value, $("csv-target").value];
  const numeric = table.columns.filter((col) => col.numeric && !used.includes(col.name)).map((col) => col.name);
  const box = $("csv-inputs");
  box.innerHTML = numeric.length ? "" : '<span class="hint">none left</span>';
  for (const name of numeric) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.value = name;
    input.checked = (state.config.inputs || []).includes(name);
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + name));
    box.appendChild(label);
  }
}

function useCsvColumns() {
  const inputs = [...document.querySelectorAll("#csv-inputs input:checked")].map((i) => i.value)
    .filter((name) => ![$("csv-x").value, $("csv-y").value, $("csv-target").value].includes(name));
  configure({
    dataset: "csv", x_column: $("csv-x").value, y_column: $("csv-y").value,
    target: $("csv-target").value, task: $("csv-task").value, inputs,
  });
}

// ------------------------------------------------------------------ the network picture

const NODE = 40;

function layout() {
  const box = $("network");
  const width = box.clientWidth || 600;
  const sizes = state.setup.layers; // [n_inputs, ...hidden, n_outputs]
  const columns = [];
  const allFeatures = state.config.dataset === "csv" ? null : FEATURES;
  const ncol = sizes.length;
  const left = state.config.dataset === "csv" ? 130 : 90, right = width - NODE - 80;
  for (let c = 0; c < ncol; c++) {
    const x = ncol === 1 ? left : left + (right - left) * c / (ncol - 1);
    columns.push(x);
  }
  return { columns, allFeatures, sizes };
}

function nodeY(i) { return 46 + i * 52; }

function buildNetwork() {
  const box = $("network");
  for (const element of [...box.querySelectorAll(".neuron, .layer-head")]) element.remove();
  const { columns, sizes } = layout();
  const active = state.config.features;
  state.nodes = [];
  // inputs: every toy feature (click to switch on/off); a CSV's inputs as they are
  // the features of the map's two columns (click to switch on or off), then a CSV file's
  // other inputs: the network's inputs in its order
  const inputNodes = [];
  const csv = state.config.dataset === "csv";
  FEATURES.forEach(([name, label], row) => {
    const on = active.includes(name);
    const shown = !csv ? label : name === "x1x2" ? `${state.config.x_column}\u00b7${state.config.y_column}`
      : label.replace("X\u2081", state.config.x_column).replace("X\u2082", state.config.y_column);
    const node = makeNode(columns[0], nodeY(row), `feature-${name}`, shown, ["feature", on ? "on" : "off"]);
    node.onclick = () => toggleFeature(name);
    if (on) inputNodes.push({ node, y: nodeY(row) });
  });
  (csv ? state.config.inputs : []).forEach((column, k) => {
    const row = FEATURES.length + k;
    const node = makeNode(columns[0], nodeY(row), `input-${column}`, column, ["feature", "on"]);
    inputNodes.push({ node, y: nodeY(row) });
  });
  state.nodes.push(inputNodes);
  for (let c = 1; c < sizes.length; c++) {
    const isOutput = c === sizes.length - 1;
    const layerNodes = [];
    for (let i = 0; i < sizes[c]; i++) {
      const label = isOutput ? (state.setup.data.classes.length > 2 ? state.setup.data.classes[i] : "") : "";
      const node = makeNode(columns[c], nodeY(i), `neuron-${c}-${i + 1}`, label, isOutput ? ["output"] : []);
      node.dataset.layer = c; node.dataset.unit = i + 1;
      node.onclick = () => chooseNeuron(c, i + 1);
      layerNodes.push({ node, y: nodeY(i) });
    }
    state.nodes.push(layerNodes);
    if (!isOutput) {
      const head = document.createElement("div");
      head.className = "layer-head";
      head.style.left = `${columns[c] - 20}px`;
      head.style.top = "0px";
      head.style.width = `${NODE + 40}px`;
      const plus = document.createElement("button");
      plus.textContent = "+"; plus.id = `add-neuron-${c}`;
      plus.onclick = () => changeNeurons(c - 1, +1);
      const minus = document.createElement("button");
      minus.textContent = "\u2212"; minus.id = `remove-neuron-${c}`;
      minus.onclick = () => changeNeurons(c - 1, -1);
      head.appendChild(plus); head.appendChild(minus);
      head.appendChild(document.createElement("br"));
      head.appendChild(document.createTextNode(`${sizes[c]} neuron${sizes[c] === 1 ? "" : "s"}`));
      box.appendChild(head);
    }
  }
  const rows = Math.max(FEATURES.length + (csv ? state.config.inputs.length : 0), ...sizes.slice(1));
  box.style.height = `${nodeY(rows) + 10}px`;
  buildEdges();
}

function makeNode(x, y, id, label, classes) {
  const node = document.createElement("div");
  node.className = ["neuron", ...classes].join(" ");
  node.id = id;
  node.style.left = `${x}px`;
  node.style.top = `${y}px`;
  const canvas = document.createElement("canvas");
  canvas.width = state.setup.data.grid; canvas.height = state.setup.data.grid;
  node.appendChild(canvas);
  if (label) {
    const name = document.createElement("div");
    name.className = "name";
    if (classes.includes("output")) { name.style.right = "auto"; name.style.left = "46px"; }
    name.textContent = label;
    node.appendChild(name);
  }
  $("network").appendChild(node);
  return node;
}

function buildEdges() {
  const svg = $("edges");
  svg.innerHTML = "";
  state.edges = [];
  const { columns } = layout();
  for (let k = 1; k < state.nodes.length; k++) {
    const from = state.nodes[k - 1], to = state.nodes[k];
    const layerEdges = [];
    from.forEach((a, i) => {
      const row = [];
      to.forEach((b, j) => {
        const x1 = columns[k - 1] + NODE, y1 = a.y + NODE / 2, x2 = columns[k], y2 = b.y + NODE / 2;
        const mid = (x1 + x2) / 2;
        const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
        path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
        path.setAttribute("class", "edge");
        path.id = `edge-${k}-${i + 1}-${j + 1}`;
        path.dataset.k = k; path.dataset.i = i + 1; path.dataset.j = j + 1;
        path.setAttribute("stroke", "#bbb");
        path.setAttribute("stroke-width", "1");
        path.setAttribute("stroke-opacity", "0.8");
        path.onclick = () => chooseEdge(k, i + 1, j + 1);
        const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
        path.appendChild(title);
        svg.appendChild(path);
        row.push(path);
      });
      layerEdges.push(row);
    });
    state.edges.push(layerEdges);
  }
}

function toggleFeature(name) {
  const features = state.config.features.includes(name)
    ? state.config.features.filter((f) => f !== name) : [...state.config.features, name];
  if (features.length === 0) { showError("keep at least one input feature"); return; }
  configure({ features });
}

function changeNeurons(layer, delta) {
  const hidden = [...state.config.hidden];
  hidden[layer] = Math.max(1, Math.min(MAX_NEURONS, hidden[layer] + delta));
  configure({ hidden });
}

// ------------------------------------------------------------------ frames

function onFrame(frame) {
  if (frame.generation !== state.generation) {
    // a frame of a network whose setup (points, layers) this page has not received yet:
    // keep it, and ask for the setup unless a request of this page is bringing it
    if (frame.generation > state.generation) {
      state.pending = frame;
      if (!state.busy) fetchSetup();
    }
    return;
  }
  if (frame.history) state.history = frame.history.slice();
  else {
    const last = state.history[state.history.length - 1];
    if (!last || last[0] !== frame.epoch) state.history.push([frame.epoch, frame.train_loss, frame.test_loss]);
  }
  state.frame = frame;
  state.frames = (state.frames || 0) + 1; // frames drawn (the tests measure the rate with it)
  drawFrame();
}

async function fetchSetup() {
  try {
    const response = await fetch(`/api/setup?session=${encodeURIComponent(state.session)}`);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error);
    applySetup(data);
  } catch (e) { showError(e.message); }
}

function drawFrame() {
  const frame = state.frame;
  if (!frame || frame.generation !== state.generation) return;
  $("epoch").textContent = String(frame.epoch).padStart(6, "0").replace(/(\d{3})(\d{3})$/, "$1,$2");
  $("loss-test").textContent = fmt(frame.test_loss);
  $("loss-train").textContent = fmt(frame.train_loss);
  setPlaying(frame.playing);
  if (frame.error) showError(frame.error);
  const grid = state.setup.data.grid;
  // neurons: inputs then hidden layers
  frame.neurons.forEach((layer, c) => {
    layer.forEach((values, i) => {
      const entry = state.nodes[c] && state.nodes[c][i];
      if (entry) paint(entry.node.querySelector("canvas"), decode(values), grid);
    });
  });
  const outputs = state.nodes[state.nodes.length - 1];
  if (frame.output.kind !== "multiclass" && outputs.length === 1) {
    paint(outputs[0].node.querySelector("canvas"), decode(frame.output.values), grid);
  } else {
    // one heatmap per class: its probability, white (0) to the class's colour (1)
    outputs.forEach((entry, i) => {
      const canvas = entry.node.querySelector("canvas"), ctx = canvas.getContext("2d");
      const values = decode(frame.output.units[i]), color = hex(CLASS_COLORS[i % CLASS_COLORS.length]);
      const image = ctx.createImageData(grid, grid);
      for (let p = 0; p < grid * grid; p++) {
        const strength = values[p] / 255;
        for (let k = 0; k < 3; k++) image.data[p * 4 + k] = 255 + (color[k] - 255) * strength;
        image.data[p * 4 + 3] = 255;
      }
      ctx.putImageData(image, 0, 0);
    });
  }
  // edges: colour by sign, width by size
  frame.weights.forEach((matrix, k) => {
    matrix.forEach((row, i) => row.forEach((w, j) => {
      const path = state.edges[k] && state.edges[k][i] && state.edges[k][i][j];
      if (!path) return;
      path.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322");
      path.setAttribute("stroke-width", String(Math.min(8, 0.4 + Math.abs(w) * 1.6).toFixed(2)));
      path.firstChild.textContent = `weights_${k + 1}[${i + 1}, ${j + 1}] = ${w}`;
    }));
  });
  drawChart();
  drawMap();
  drawHealth(frame.health);
}

function fmt(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "\u2013";
  return Math.abs(value) >= 1000 ? value.toExponential(2) : value.toFixed(3);
}

function paint(canvas, bytes, grid, discrete) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(grid, grid);
  for (let p = 0; p < grid * grid; p++) {
    let b = bytes[p];
    if (discrete) b = b >= 128 ? 255 : 0;
    image.data[p * 4] = LUT[b * 3];
    image.data[p * 4 + 1] = LUT[b * 3 + 1];
    image.data[p * 4 + 2] = LUT[b * 3 + 2];
    image.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

const offscreen = document.createElement("canvas");

function drawMap() {
  const frame = state.frame, setup = state.setup;
  if (!frame || !setup) return;
  const data = setup.data, grid = data.grid;
  const canvas = $("map"), ctx = canvas.getContext("2d");
  offscreen.width = grid; offscreen.height = grid;
  const discrete = $("discretize").checked;
  let label = "Output";
  if (state.chosenNeuron && state.chosenNeuron[0] < frame.neurons.length) {
    const [c, unit] = state.chosenNeuron;
    paint(offscreen, decode(frame.neurons[c][unit - 1]), grid, discrete);
    label = `Layer ${c}, neuron ${unit}`;
  } else if (frame.output.kind === "multiclass") {
    const classes = decode(frame.output.classes), values = decode(frame.output.values);
    const octx = offscreen.getContext("2d"), image = octx.createImageData(grid, grid);
    for (let p = 0; p < grid * grid; p++) {
      const color = hex(CLASS_COLORS[classes[p] % CLASS_COLORS.length]);
      const strength = discrete ? 0.85 : 0.25 + 0.6 * (values[p] / 255);
      for (let k = 0; k < 3; k++) image.data[p * 4 + k] = 255 + (color[k] - 255) * strength;
      image.data[p * 4 + 3] = 255;
    }
    octx.putImageData(image, 0, 0);
  } else {
    paint(offscreen, decode(frame.output.values), grid, discrete && frame.output.kind === "binary");
  }
  $("map-label").textContent = label;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(offscreen, 0, 0, canvas.width, canvas.height);
  const showTest = $("show-test").checked;
  const [x0, x1, y0, y1] = data.domain;
  const px = (x) => (x - x0) / (x1 - x0) * canvas.width;
  const py = (y) => (y1 - y) / (y1 - y0) * canvas.height;
  const pointColor = (t) => {
    if (data.task === "regress") {
      const [low, high] = data.y_range;
      const value = t * data.y_std + data.y_mean;
      return colorOf(((value - low) / ((high - low) || 1)) * 2 - 1);
    }
    if (data.classes.length <= 2) return t > 0.5 ? "#0877bd" : "#f59322";
    return CLASS_COLORS[t % CLASS_COLORS.length];
  };
  for (const [points, stroke] of showTest ? [[data.train, "#fff"], [data.test, "#000"]] : [[data.train, "#fff"]]) {
    for (const [x, y, t] of points) {
      ctx.beginPath();
      ctx.arc(px(x), py(y), 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = pointColor(t);
      ctx.fill();
      ctx.lineWidth = 1; ctx.strokeStyle = stroke; ctx.stroke();
    }
  }
  if (state.chosenPoint) {
    const [x, y] = state.chosenPoint.point;
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(px(x) - 7, py(y)); ctx.lineTo(px(x) + 7, py(y));
    ctx.moveTo(px(x), py(y) - 7); ctx.lineTo(px(x), py(y) + 7);
    ctx.stroke();
  }
  drawLegend();
}

function drawLegend() {
  const data = state.setup.data, box = $("legend");
  let html = "";
  if (data.task === "classify") {
    data.classes.forEach((name, i) => {
      const color = data.classes.length <= 2 ? (i === 1 ? "#0877bd" : "#f59322") : CLASS_COLORS[i % CLASS_COLORS.length];
      html += `<span><span class="swatch" data-color="${color}"></span>${escapeHtml(name)}</span>`;
    });
  } else {
    html = `<span><span class="swatch" data-color="#f59322"></span>${fmt(data.y_range[0])}</span>` +
      `<span><span class="swatch" data-color="#0877bd"></span>${fmt(data.y_range[1])}</span>`;
  }
  if (box.dataset.html !== html) {
    box.innerHTML = html;
    box.dataset.html = html;
    for (const swatch of box.querySelectorAll(".swatch")) swatch.style.background = swatch.dataset.color;
  }
}

function drawChart() {
  const canvas = $("chart"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const history = state.history;
  if (history.length < 2) return;
  const first = history[0][0], last = history[history.length - 1][0] || 1;
  let top = 0;
  for (const [, a, b] of history) top = Math.max(top, Number.isFinite(a) ? a : 0, Number.isFinite(b) ? b : 0);
  top = top || 1;
  for (const [column, color] of [[1, "#999"], [2, "#000"]]) {
    ctx.beginPath();
    history.forEach((point, n) => {
      const x = (point[0] - first) / ((last - first) || 1) * canvas.width;
      const y = canvas.height - 2 - (point[column] / top) * (canvas.height - 4);
      if (n === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.stroke();
  }
}

// ------------------------------------------------------------------ health

function drawHealth(health) {
  const box = $("health");
  if (!health || !health.layers.length) return;
  const pct = (v) => (v === null || v === undefined ? "\u2013" : `${Math.round(v * 100)}%`);
  const num = (v) => (v === null || v === undefined ? "\u2013" : Number(v).toExponential(1));
  let html = "<table><tr><th>layer</th><th>units</th><th>dead</th><th>saturated</th><th>update/weight</th><th>grad norm</th></tr>";
  for (const row of health.layers) {
    // dead: ReLU layers; saturated: sigmoid and tanh layers (n/a for the others)
    const dead = row.dead !== undefined ? pct(row.dead) : "n/a";
    const saturated = row.saturated !== undefined ? pct(row.saturated) : "n/a";
    const deadBad = row.dead >= 0.5 ? ' class="num bad"' : ' class="num"';
    const satBad = row.saturated >= 0.5 ? ' class="num bad"' : ' class="num"';
    html += `<tr><td>${row.layer} (${escapeHtml(row.activation || "linear")})</td><td class="num">${row.units}</td>` +
      `<td${deadBad}>${dead}</td><td${satBad}>${saturated}</td><td class="num">${num(row.update_ratio)}</td>` +
      `<td class="num">${num(row.grad_norm)}</td></tr>`;
  }
  html += "</table>";
  for (const warning of health.warnings) html += `<div class="warn">&#9888; ${escapeHtml(warning)}</div>`;
  if (box.dataset.html !== html) { box.innerHTML = html; box.dataset.html = html; }
}

// ------------------------------------------------------------------ the chain-rule trace

function onMapClick(event) {
  const canvas = $("map"), rect = canvas.getBoundingClientRect();
  const data = state.setup.data, [x0, x1, y0, y1] = data.domain;
  const px = (event.clientX - rect.left) / rect.width, py = (event.clientY - rect.top) / rect.height;
  const x = x0 + px * (x1 - x0), y = y1 - py * (y1 - y0);
  // the nearest data point within 6 pixels, else the place clicked
  let best = null, bestDistance = 6;
  const splits = $("show-test").checked ? ["train", "test"] : ["train"];
  for (const split of splits) {
    data[split].forEach(([a, b], index) => {
      const d = Math.hypot((a - x) / (x1 - x0) * rect.width, (b - y) / (y1 - y0) * rect.height);
      if (d < bestDistance) { bestDistance = d; best = { split, index, point: [a, b] }; }
    });
  }
  state.chosenPoint = best || { point: [x, y] };
  drawMap();
  runTrace();
}

function chooseNeuron(layer, unit) {
  const same = state.chosenNeuron && state.chosenNeuron[0] === layer && state.chosenNeuron[1] === unit;
  state.chosenNeuron = same ? null : [layer, unit];
  state.chosenEdge = null;
  markChosen();
  drawMap();
  runTrace();
}

function chooseEdge(k, i, j) {
  state.chosenEdge = [k, i, j];
  state.chosenNeuron = null;
  markChosen();
  drawMap();
  runTrace();
}

function markChosen() {
  for (const element of document.querySelectorAll(".chosen")) element.classList.remove("chosen");
  if (state.chosenNeuron) {
    const node = $(`neuron-${state.chosenNeuron[0]}-${state.chosenNeuron[1]}`);
    if (node) node.classList.add("chosen");
  }
  if (state.chosenEdge) {
    const path = $(`edge-${state.chosenEdge.join("-")}`);
    if (path) path.classList.add("chosen");
  }
}

async function runTrace() {
  const box = $("trace");
  if (!state.chosenPoint) {
    if (!state.setup.data.train.length) return;
    // no point chosen yet: the first training point
    const [a, b] = state.setup.data.train[0];
    state.chosenPoint = { split: "train", index: 0, point: [a, b] };
    drawMap();
  }
  const request = { session: state.session };
  if (state.chosenPoint.index !== undefined) {
    request.index = state.chosenPoint.index;
    request.split = state.chosenPoint.split;
  } else request.point = state.chosenPoint.point;
  if (state.chosenEdge) request.weight = state.chosenEdge;
  try {
    const trace = await api("/api/trace", request);
    box.innerHTML = renderTrace(trace);
  } catch (error) {
    box.innerHTML = `<p class="warn">${escapeHtml(error.message)}</p>`;
  }
}

function num4(v) {
  if (Array.isArray(v)) return "[" + v.map(num4).join(", ") + "]";
  if (typeof v !== "number") return escapeHtml(String(v));
  if (v === 0) return "0";
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : Number(v.toPrecision(5)).toString();
}

function renderTrace(trace) {
  const [x, y] = trace.point;
  const flat = (v) => (Array.isArray(v) ? v.flat(Infinity) : [v]);
  const target = flat(trace.target), prediction = flat(trace.values.prediction);
  let html = `<div>Point (${num4(x)}, ${num4(y)}); target ${num4(target.length === 1 ? target[0] : target)} <span class="hint">(${escapeHtml(trace.target_note)})</span>; ` +
    `prediction ${num4(prediction.length === 1 ? prediction[0] : prediction)}; error ${num4(trace.error)} <span class="hint">(${escapeHtml(trace.loss)})</span></div>`;
  if (trace.weight) {
    const w = trace.weight;
    html += `<div class="gradient"><b>${escapeHtml(w.weight)}</b> = ${num4(w.value)} (from ${escapeHtml(w.joins)}): ` +
      `<b>derror/d${escapeHtml(w.weight)} = ${num4(w.gradient)}</b>, the product of</div><table>`;
    for (const step of w.steps) {
      html += `<tr class="hl"><td>${escapeHtml(step.name)}</td><td class="num">${num4(step.value)}</td><td class="formula">${escapeHtml(step.formula)}</td></tr>`;
    }
    html += "</table>";
  }
  // which trace rows belong to the chosen neuron: hidden layer c is layer_(2c-1) (x W + b) and layer_(2c) (activation)
  let rows = [];
  let unit = null;
  if (state.chosenNeuron) {
    const [c, u] = state.chosenNeuron;
    unit = u;
    const last = state.setup.layers.length - 1;
    rows = c === last ? ["prediction"] : [`layer_${2 * c - 1}`, `layer_${2 * c}`, `derror_dlayer${2 * c - 1}`, `derror_dlayer${2 * c}`];
    html += `<div class="gradient">${neuronFormula(c, u)}</div>`;
    html += `<div class="gradient">Neuron ${u} of layer ${c} at this point: ` +
      rows.filter((name) => name in trace.values).map((name) => {
        const value = trace.values[name];
        return `${escapeHtml(name)}[${u}] = <b>${num4(Array.isArray(value) ? value[u - 1] : value)}</b>`;
      }).join("; ") + "</div>";
  }
  html += '<table><tr><th>name</th><th>value</th><th>how</th></tr>';
  for (const [name, value] of Object.entries(trace.values)) {
    const hl = rows.includes(name) ? ' class="hl"' : "";
    let shown;
    if (Array.isArray(value) && Array.isArray(value[0])) shown = `${value.length}x${value[0].length} matrix`;
    else if (Array.isArray(value) && value.length > 6) {
      shown = "[" + value.slice(0, 5).map(num4).join(", ") + `, \u2026 (${value.length})]`;
    } else shown = num4(value);
    html += `<tr${hl}><td>${escapeHtml(name)}</td><td class="num">${shown}</td>` +
      `<td class="formula">${escapeHtml(trace.how[name] || "")}</td></tr>`;
  }
  html += "</table>";
  return html;
}

// what a neuron computes, with its weights now: tanh(0.53 X1 - 1.2 X2 + 0.1)
function neuronFormula(c, u) {
  const frame = state.frame, setup = state.setup;
  if (!frame || !frame.weights[c - 1]) return "";
  const last = setup.layers.length - 1;
  const names = c === 1 ? setup.data.inputs : Array.from({ length: setup.layers[c - 1] }, (_, i) => `h${c - 1}.${i + 1}`);
  const terms = frame.weights[c - 1].map((row, i) => {
    const w = row[u - 1];
    const sign = w < 0 ? "\u2212" : "+";
    return `${i === 0 ? (w < 0 ? sign : "") : sign + " "}${num4(Math.abs(w))}\u00b7${names[i]}`;
  });
  const b = frame.biases[c - 1][u - 1];
  const sum = terms.join(" ") + ` ${b < 0 ? "\u2212" : "+"} ${num4(Math.abs(b))}`;
  let activation = state.config.activation;
  if (c === last) {
    activation = setup.data.task === "regress" ? "" : setup.data.classes.length > 2 ? "softmax" : "sigmoid";
  }
  const formula = activation && activation !== "linear" ? `${activation}(${sum})` : sum;
  const name = c === last ? `Output ${u}` : `Neuron h${c}.${u}`;
  return `${name} computes <span class="formula">${escapeHtml(formula)}</span>` +
    (c === last && activation === "softmax" ? " (normalised over the classes)" : "");
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// ------------------------------------------------------------------ export

async function showCommand() {
  try {
    const response = await fetch(`/api/export?session=${encodeURIComponent(state.session)}&what=command`);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error);
    $("export").innerHTML = `<p>Save the data as <code>${escapeHtml(data.data_file)}</code> (Data button), then run:</p>` +
      `<pre id="command-text">${escapeHtml(data.command)}</pre><p>or put this in <code>playground.toml</code>:</p>` +
      `<pre id="toml-text">${escapeHtml(data.toml)}</pre>` +
      `<p>or in Python (the same split and inputs as here):</p><pre id="python-text">${escapeHtml(data.python)}</pre>` +
      data.notes.map((n) => `<p class="hint">${escapeHtml(n)}</p>`).join("");
  } catch (error) {
    showError(error.message);
  }
}

window.addEventListener("DOMContentLoaded", () => { start().catch((e) => showError(e.message)); });
window.addEventListener("resize", () => { if (state.setup) { buildNetwork(); drawFrame(); } });

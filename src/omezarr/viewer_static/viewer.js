// omezarr viewer: builds the controls from /api/metadata and shows /render PNGs.
// The page's query string holds the view (level, t, z, mip, c, labels, opacity), so a view
// can be bookmarked or opened directly.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  const state = {
    level: "",        // "" lets the server pick the level for the stage's size
    t: 0,
    z: null,          // full-resolution plane; null is the middle one
    mip: false,
    channels: null,   // array of channel indices; null until the metadata is known
    labels: "",
    opacity: 0.5,
  };
  let meta = null;
  let pending = null;   // the AbortController of the render in flight
  let shownUrl = null;  // the object URL of the picture on screen

  function readQuery() {
    const query = new URLSearchParams(window.location.search);
    const int = (name) => {
      const value = parseInt(query.get(name), 10);
      return Number.isFinite(value) ? value : null;
    };
    if (query.has("level")) state.level = query.get("level");
    if (int("t") !== null) state.t = int("t");
    if (int("z") !== null) state.z = int("z");
    state.mip = query.get("mip") === "1" || query.get("projection") === "mip";
    if (query.has("c")) {
      state.channels = query.get("c").split(",").filter((s) => s.trim() !== "").map(Number);
    }
    if (query.has("labels")) state.labels = query.get("labels");
    const opacity = parseFloat(query.get("opacity"));
    if (Number.isFinite(opacity)) state.opacity = Math.min(1, Math.max(0, opacity));
  }

  function writeQuery() {
    const query = viewQuery();
    query.delete("size");
    window.history.replaceState(null, "", "?" + query.toString());
  }

  function sizeOf(axis) {
    const index = meta.dims.indexOf(axis);
    return index < 0 ? 1 : meta.levels[0].shape[index];
  }

  function viewQuery() {
    const query = new URLSearchParams();
    if (state.level !== "") query.set("level", state.level);
    query.set("t", String(state.t));
    if (state.mip) {
      query.set("projection", "mip");
      query.set("mip", "1");
    } else if (state.z !== null) {
      query.set("z", String(state.z));
    }
    query.set("c", state.channels.join(","));
    if (state.labels) {
      query.set("labels", state.labels);
      query.set("opacity", String(state.opacity));
    }
    const stage = $("stage");
    const pixels = Math.max(stage.clientWidth, stage.clientHeight) * (window.devicePixelRatio || 1);
    query.set("size", String(Math.max(64, Math.min(4096, Math.round(pixels)))));
    return query;
  }

  function showMessage(text) {
    const message = $("message");
    message.textContent = text || "";
    message.hidden = !text;
  }

  async function render() {
    if (pending) pending.abort();
    const controller = new AbortController();
    pending = controller;
    writeQuery();
    $("status").textContent = "rendering…";
    try {
      const response = await fetch("/render?" + viewQuery().toString(), { signal: controller.signal });
      if (!response.ok) throw new Error(await response.text());
      const picture = await response.blob();
      if (shownUrl) URL.revokeObjectURL(shownUrl);
      shownUrl = URL.createObjectURL(picture);
      $("view").src = shownUrl;
      showMessage("");
      const level = response.headers.get("X-Omezarr-Level") || state.level;
      const plane = state.mip ? "maximum projection" : "z " + $("z-value").textContent;
      $("status").textContent = "level " + level + " · " + plane + " · t " + state.t;
    } catch (error) {
      if (error.name === "AbortError") return;
      $("status").textContent = "";
      showMessage(String(error.message || error).trim());
    } finally {
      if (pending === controller) pending = null;
    }
  }

  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function fillTable(table, header, rows) {
    table.replaceChildren();
    const head = element("tr");
    header.forEach((name) => head.appendChild(element("th", name)));
    table.appendChild(head);
    rows.forEach((row) => {
      const line = element("tr");
      row.forEach((cell) => line.appendChild(element("td", cell)));
      table.appendChild(line);
    });
  }

  const times = (shape) => (shape ? shape.join("×") : "—");

  function buildMetadata() {
    $("title").textContent = meta.name || meta.path;
    document.title = (meta.name || meta.path) + " · omezarr viewer";
    const summary = $("summary");
    const facts = [
      ["path", meta.path],
      ["OME-NGFF", meta.version],
      ["dtype", meta.dtype],
      ["shape", meta.dims.join("") + " " + times(meta.levels[0].shape)],
      ["levels", meta.levels.length],
      ["labels", meta.labels.map((label) => label.name).join(", ") || "none"],
    ];
    facts.forEach(([name, value]) => {
      summary.appendChild(element("dt", name));
      summary.appendChild(element("dd", value));
    });
    fillTable(
      $("axes"),
      ["axis", "type", "unit", "size", "pixel"],
      meta.axes.map((axis, i) => [
        axis.name, axis.type || "", axis.unit || "", meta.levels[0].shape[i],
        meta.levels[0].scale[i],
      ]),
    );
    const sharded = meta.levels.some((level) => level.shards);
    fillTable(
      $("levels"),
      ["path", "shape", "chunks"].concat(sharded ? ["shards"] : []),
      meta.levels.map((level) => [level.path, times(level.shape), times(level.chunks)]
        .concat(sharded ? [times(level.shards)] : [])),
    );
    $("data-url").textContent = window.location.origin + meta.data_url;
  }

  function setupSlider(axis, value, onChange) {
    const count = sizeOf(axis);
    const row = $(axis + "-row");
    row.hidden = !meta.dims.includes(axis) || count < 2;
    const slider = $(axis);
    slider.max = String(count - 1);
    slider.value = String(Math.min(count - 1, Math.max(0, value)));
    $(axis + "-value").textContent = slider.value;
    slider.addEventListener("input", () => {
      $(axis + "-value").textContent = slider.value;
      onChange(parseInt(slider.value, 10));
    });
  }

  function buildControls() {
    const level = $("level");
    meta.levels.forEach((entry, i) => {
      level.appendChild(element("option", i + ": " + times(entry.shape), { value: String(i) }));
    });
    level.value = state.level;
    if (level.value !== state.level) state.level = "";
    level.addEventListener("change", () => { state.level = level.value; render(); });

    const depth = sizeOf("z");
    if (state.z === null) state.z = Math.floor(depth / 2);
    setupSlider("z", state.z, (value) => { state.z = value; render(); });
    setupSlider("t", state.t, (value) => { state.t = value; render(); });
    state.z = Math.min(depth - 1, Math.max(0, state.z));
    state.t = Math.min(sizeOf("t") - 1, Math.max(0, state.t));
    $("mip-row").hidden = depth < 2;
    const mip = $("mip");
    mip.checked = state.mip && depth > 1;
    state.mip = mip.checked;
    $("z").disabled = state.mip;
    mip.addEventListener("change", () => {
      state.mip = mip.checked;
      $("z").disabled = state.mip;
      render();
    });

    if (state.channels === null) {
      state.channels = meta.channels.filter((c) => c.active).map((c) => c.index);
    }
    state.channels = state.channels.filter((c) => c >= 0 && c < meta.channels.length);
    const list = $("channels");
    meta.channels.forEach((channel) => {
      const row = element("label", null, { class: "channel" });
      const box = element("input", null, { type: "checkbox", "data-channel": String(channel.index) });
      box.checked = state.channels.includes(channel.index);
      box.addEventListener("change", () => {
        state.channels = Array.from(list.querySelectorAll("input:checked"))
          .map((input) => Number(input.dataset.channel));
        render();
      });
      const swatch = element("span", null, { class: "swatch" });
      swatch.style.background = "#" + channel.color;
      row.append(box, swatch, element("span", channel.name));
      list.appendChild(row);
    });

    const labels = $("labels");
    meta.labels.forEach((label) => labels.appendChild(element("option", label.name, { value: label.name })));
    labels.value = state.labels;
    if (labels.value !== state.labels) state.labels = "";
    labels.addEventListener("change", () => { state.labels = labels.value; render(); });
    const opacity = $("opacity");
    opacity.value = String(state.opacity);
    $("opacity-value").textContent = opacity.value;
    opacity.addEventListener("input", () => {
      state.opacity = parseFloat(opacity.value);
      $("opacity-value").textContent = opacity.value;
      if (state.labels) render();
    });
  }

  async function start() {
    readQuery();
    try {
      const response = await fetch("/api/metadata");
      const document_ = await response.json();
      if (!response.ok || document_.error) {
        $("title").textContent = document_.path || "";
        showMessage(document_.error || response.statusText);
        $("data-url").textContent = window.location.origin + "/data/";
        return;
      }
      meta = document_;
    } catch (error) {
      showMessage("cannot read /api/metadata: " + error);
      return;
    }
    buildMetadata();
    buildControls();
    render();
    let resized = null;
    window.addEventListener("resize", () => {
      clearTimeout(resized);
      resized = setTimeout(render, 200);
    });
  }

  start();
})();

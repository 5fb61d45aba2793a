// The page of `seqkit serve`: asks GET /models once, POST /translate on submit, and draws the chosen
// hypothesis' attention (rows: output tokens, columns: source tokens) as a table of shaded cells.
"use strict";

const $ = (id) => document.getElementById(id);

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function call(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

async function loadModels() {
  const { models } = await call("models");
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = `${m.name} (${m.source} → ${m.target}, ${m.model})`;
    $("model").append(option);
  }
  $("status").textContent = `${models.length} model${models.length === 1 ? "" : "s"}`;
}

function drawAttention(sentence, hypothesis, index) {
  const att = hypothesis.attention;
  $("attention").hidden = !att;
  if (!att) return;
  $("attention-of").textContent = `(sentence ${sentence + 1}, hypothesis ${index + 1})`;
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  head.append(document.createElement("th"));
  for (const piece of att.source) {
    const th = document.createElement("th");
    th.textContent = piece;
    head.append(th);
  }
  const body = table.createTBody();
  att.weights.forEach((row, t) => {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.textContent = att.target[t] ?? "";
    tr.append(th);
    row.forEach((w, s) => {
      const td = tr.insertCell();
      td.style.background = `rgba(36, 50, 74, ${w.toFixed(3)})`;
      td.title = `${att.target[t] ?? ""} ← ${att.source[s]}: ${w.toFixed(3)}`;
    });
  });
  $("heatmap").replaceChildren(table);
}

function render(lines, translations) {
  const results = $("results");
  results.replaceChildren();
  translations.forEach((tr, i) => {
    const box = document.createElement("div");
    box.className = "sentence";
    const source = document.createElement("p");
    source.className = "source";
    source.textContent = lines[i];
    const best = document.createElement("p");
    best.className = "translation";
    best.textContent = tr.text;
    const list = document.createElement("ol");
    list.className = "nbest";
    tr.nbest.forEach((h, j) => {
      const li = document.createElement("li");
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = h.text;
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = h.score.toFixed(4);
      li.append(text, score);
      li.addEventListener("click", () => {
        for (const other of results.querySelectorAll(".nbest li")) other.classList.remove("chosen");
        li.classList.add("chosen");
        drawAttention(i, h, j);
      });
      list.append(li);
    });
    box.append(source, best, list);
    results.append(box);
  });
  const first = results.querySelector(".nbest li");
  if (first) first.click();
}

async function translate(event) {
  event.preventDefault();
  const lines = $("text").value.split("\n").filter((line) => line.trim() !== "");
  if (lines.length === 0) return;
  const beam = Number($("beam").value);
  const nbest = Math.min(Number($("nbest").value), beam);
  $("translate").disabled = true;
  showError("");
  try {
    const answer = await call("translate", {
      text: lines, model: $("model").value, strategy: "beam", beam, nbest, attention: true,
    });
    render(lines, answer.translations);
  } catch (error) {
    showError(error.message);
  } finally {
    $("translate").disabled = false;
  }
}

$("form").addEventListener("submit", translate);
loadModels().catch((error) => showError(error.message));

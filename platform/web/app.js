// Entry point: sign in or sign up, then the neighbour or operator view for the key's role.

import { api, session } from "./api.js";
import { h, replace } from "./dom.js";
import { neighbourView } from "./neighbour.js";
import { operatorView } from "./operator.js";
import { live } from "./live.js";

const $ = (id) => document.getElementById(id);
let stopLive = null;

function show(which) {
  for (const id of ["welcome", "new-key", "app"]) $(id).hidden = id !== which;
  $("nav").hidden = which !== "app";
  $("who").hidden = which !== "app";
}

function say(text, kind = "") {
  const status = $("auth-status");
  status.textContent = text;
  status.className = `status ${kind}`;
}

async function start() {
  if (!session.key) { show("welcome"); return; }
  let me;
  try {
    me = await api("/v1/me");
  } catch (e) {
    session.clear();
    show("welcome");
    say(e.status === 401 ? "That API key is not valid (unknown or revoked). Check it, or create an account." : e.message, "error");
    $("sign-in-key").focus();
    return;
  }
  $("who-name").textContent = me.name;
  $("who-role").textContent = me.role;
  const operator = me.role === "operator" || me.role === "admin";
  const view = operator ? operatorView(me) : neighbourView(me);
  replace($("app"), h("h1", {}, operator ? "Operator" : `Hello, ${me.name}`), view.sections);
  replace($("nav-list"), view.sections.map((s) =>
    h("li", {}, h("a", { href: `#${s.id}` }, s.querySelector("h2").textContent))));
  show("app");
  await view.refresh();
  stopLive = live(() => view.refresh(true));
  document.body.dataset.ready = "true";
}

$("sign-in-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("sign-in-key").value.trim();
  if (!key) { say("Enter your API key.", "error"); $("sign-in-key").focus(); return; }
  session.set(key);
  $("sign-in-key").value = "";
  say("");
  start();
});

$("sign-up-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const name = form.name.value.trim();
  if (!name) { say("Choose an account name.", "error"); form.name.focus(); return; }
  say("Creating your account…");
  try {
    const created = await api("/v1/accounts", { method: "POST", body: { name, role: form.role.value } });
    session.set(created.api_key);
    form.reset();
    say("");
    $("new-key-value").value = created.api_key;
    show("new-key");
    $("new-key-value").focus();
    $("new-key-value").select();
  } catch (err) {
    say(`Could not create the account: ${err.message}`, "error");
  }
});

$("new-key-continue").addEventListener("click", () => {
  $("new-key-value").value = "";
  start().then(() => $("main").focus());
});

$("sign-out").addEventListener("click", () => {
  if (stopLive) stopLive();
  stopLive = null;
  session.clear();
  delete document.body.dataset.ready;
  replace($("app"));
  show("welcome");
  say("Signed out.");
  $("sign-in-key").focus();
});

start();

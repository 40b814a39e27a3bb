// Stackfast reference SPA bundle ({{BUILD_ID}}). The API origin is baked in at build time (R3.7).
const API_BASE = "{{API_BASE}}";
const WEB_ORIGIN = window.location.origin;

async function show(id, response) {
  const text = await response.text();
  document.getElementById(id).textContent = response.status + " " + text;
  return text;
}

async function load() {
  try {
    const session = await fetch(API_BASE + "/api/auth/get-session", {credentials: "include"});
    const body = await show("session", session);
    let signedIn = false;
    try {
      const parsed = JSON.parse(body);
      signedIn = Boolean(parsed && (parsed.session || parsed.user));
    } catch (e) { signedIn = false; }
    if (signedIn) {
      const created = await fetch(API_BASE + "/api/v1/blueprints", {
        method: "POST",
        credentials: "include",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({idea: "x", constraints: []}),
      });
      await show("protected", created);
    } else {
      document.getElementById("protected").textContent = "not signed in";
    }
  } catch (error) {
    document.getElementById("session").textContent = "error " + error;
  } finally {
    document.body.dataset.ready = "1";
  }
}

document.getElementById("sign-in").addEventListener("click", async () => {
  const response = await fetch(API_BASE + "/api/auth/sign-in/social", {
    method: "POST",
    credentials: "include",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({provider: "github", callbackURL: WEB_ORIGIN}),
  });
  const answer = await response.json();
  if (answer.url) { window.location.href = answer.url; }
});

// In-app navigation (no reload): /catalog lists the categories from the API (a public read route).
async function route() {
  const view = document.getElementById("view");
  if (window.location.pathname === "/catalog") {
    view.dataset.ready = "0";
    try {
      const categories = await fetch(API_BASE + "/api/v1/categories");
      await show("view", categories);
    } catch (error) {
      view.textContent = "error " + error;
    } finally {
      view.dataset.ready = "1";
    }
  } else {
    view.textContent = "home";
    view.dataset.ready = "1";
  }
}

document.querySelectorAll("a[data-nav]").forEach((link) => {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    window.history.pushState({}, "", link.getAttribute("href"));
    route();
  });
});
window.addEventListener("popstate", route);

route();
load();

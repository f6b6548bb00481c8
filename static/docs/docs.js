// Starts Swagger UI on /docs from the files vendored in static/vendor/swagger-ui (no CDN, and
// no inline script, so /docs runs under the same Content-Security-Policy as the page).
// Every address is relative to this page: behind a proxy that serves the app under a path of
// its own (https://host/featuremaps/docs), the description and "Try it out" stay under it.
const root = document.getElementById("swagger-ui");
const specUrl = new URL(root.dataset.openapiUrl, window.location.href);
fetch(specUrl)
  .then((response) => {
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.json();
  })
  .then((spec) => {
    const base = new URL(".", specUrl).pathname.replace(/\/$/, "");
    if (base) spec.servers = [{ url: base }];
    window.SwaggerUIBundle({
      spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      tryItOutEnabled: true,
    });
  })
  .catch((err) => {
    root.textContent = `The API description (${specUrl.pathname}) could not be loaded: ${err.message}`;
  });

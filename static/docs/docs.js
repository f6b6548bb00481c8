// Starts Swagger UI on /docs from the files vendored in static/vendor/swagger-ui (no CDN, and
// no inline script, so /docs runs under the same Content-Security-Policy as the page).
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: true,
});

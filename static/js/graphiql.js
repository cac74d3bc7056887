// Starts GraphiQL on /graphql (development only). Requests carry the staff session
// cookie (same origin), so what you see is exactly what your role may see.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  if (!root || !window.GraphiQL || !window.React || !window.ReactDOM) {
    return;
  }
  var signedIn = root.getAttribute("data-signed-in") === "yes";
  var defaultQuery = signedIn
    ? "# Who am I, and the first patients I may see.\n" +
      "query Start {\n  me { username roles }\n" +
      "  patients(first: 5) {\n    edges { node { id givenName familyName birthDate } }\n  }\n}\n"
    : "# Sign in first (link at the top right): every field needs a signed-in caller.\n" +
      "query Me {\n  me { username roles }\n}\n";
  var fetcher = window.GraphiQL.createFetcher({ url: root.getAttribute("data-url") });
  window.ReactDOM.createRoot(root).render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    })
  );
})();

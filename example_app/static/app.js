// Forms on pages that are cached for every visitor cannot carry a personal CSRF token in their HTML: fill it in
// from the CSRF cookie (Litestar's "csrftoken", readable by scripts by default) when the form is submitted.
document.addEventListener("submit", (event) => {
  const field = event.target.querySelector("input[name=_csrf_token][data-from-cookie]");
  if (!field) return;
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  field.value = cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
});

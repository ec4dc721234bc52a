import htmx from "htmx.org";
import "@tabler/core/dist/js/tabler.min.js";

// No inline styles: our CSP allows only nonce'd styles.
htmx.config.includeIndicatorStyles = false;
htmx.config.allowEval = false;
window.htmx = htmx;

package host

import (
	"context"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"
)

// ReloadHandler serves POST /admin/plugins/reload: it reloads the plugins
// and answers 200 {"reloaded": true, "pipelines": [...]}, or 500
// {"error": "..."} with the old plugins still serving. Other methods get 405.
func (h *Host) ReloadHandler() fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		c.SetContentType("application/json")
		if !c.IsPost() {
			c.Response.Header.Set("Allow", "POST")
			c.SetStatusCode(fasthttp.StatusMethodNotAllowed)
			c.SetBodyString(`{"error":"use POST"}`)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var body []byte
		if err := h.Reload(ctx); err != nil {
			c.SetStatusCode(fasthttp.StatusInternalServerError)
			body, _ = json.Marshal(map[string]string{"error": err.Error()})
		} else {
			body, _ = json.Marshal(map[string]any{"reloaded": true, "pipelines": h.Names()})
		}
		c.SetBody(body)
	}
}

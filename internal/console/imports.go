package console

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/importer"
)

type importData struct {
	Kinds  []string
	Kind   string
	DryRun bool
	// Limit is the largest file, as a size ("64 MiB").
	Limit string
	// File and Size name the file posted; Summary is what its import did
	// (or, on a dry run, would do), Errors every problem of a refused one.
	File    string
	Size    string
	Summary *importer.Summary
	Elapsed string
	Errors  []string
}

// Imports is the upload page (manager): GET shows the form, POST imports
// the uploaded CSV file through importer.Service, the service behind POST
// /api/v1/imports/{kind} and `warehouse import`, and shows its summary or
// every row error. The file is spooled to disk by ParseMultipartForm
// (gateUpload), bounded by the API's import limit. The request is
// synchronous: the page's script disables the button and says the file
// is being imported until the answer arrives.
func (c *Console) Imports() http.Handler {
	return c.gateUpload(warehouse.RoleManager, func(w http.ResponseWriter, r *http.Request, s signedIn) {
		d := &importData{Kind: string(importer.Items), Limit: byteSize(c.auth.ImportLimit())}
		for _, k := range importer.Kinds {
			d.Kinds = append(d.Kinds, string(k))
		}
		v := c.view(s, "Import")
		status := http.StatusOK
		if r.Method == http.MethodPost {
			d.Kind, d.DryRun = r.PostFormValue("kind"), r.PostFormValue("dry_run") != ""
			if s.renewed {
				v.Notice = "Your sign-in was renewed; choose the file again and press Import."
			} else {
				status = c.importUpload(r, s, d, &v)
			}
		}
		v.Data = d
		c.render(w, r, status, "imports", v)
	})
}

// importUpload imports the posted file into d; the status is the API's
// for the same outcome.
func (c *Console) importUpload(r *http.Request, s signedIn, d *importData, v *view) int {
	kind, err := importer.ParseKind(d.Kind)
	if err != nil {
		v.Error = "Choose what the file holds: items, locations or stock."
		return http.StatusUnprocessableEntity
	}
	if !isMultipart(r) {
		v.Error = "The form must be sent as multipart/form-data, with the file."
		return http.StatusUnsupportedMediaType
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		v.Error = "Choose a CSV file to import."
		return http.StatusUnprocessableEntity
	}
	defer f.Close()
	d.File, d.Size = hdr.Filename, byteSize(hdr.Size)
	if limit := c.auth.ImportLimit(); hdr.Size > limit {
		v.Error = fmt.Sprintf("The file is larger than %s: split it, or import it on the server with warehouse import.", byteSize(limit))
		return http.StatusRequestEntityTooLarge
	}
	sum, err := c.imports.Import(r.Context(), importer.Actor{Name: s.name(), Roles: s.p.Roles}, kind, f, d.DryRun, nil)
	if err != nil {
		p := c.auth.Problem(err)
		var de *warehouse.Error
		if errors.As(err, &de) && rowErrors(de) {
			for _, fe := range de.Fields {
				d.Errors = append(d.Errors, fe.String())
			}
			v.Error = fmt.Sprintf("The file %s was refused whole: nothing was imported. Every problem is listed below; correct them and import it again.", d.File)
			if len(de.Fields) >= warehouse.MaxImportErrors {
				v.Error = fmt.Sprintf("The file %s was refused whole: nothing was imported. It has more problems than the first %d listed below.", d.File, len(de.Fields))
			}
		} else {
			v.Error = sentence(p)
		}
		return p.Status
	}
	d.Summary = &sum
	d.Elapsed = sum.Elapsed.Round(time.Millisecond).String()
	if sum.DryRun {
		v.Notice = "Dry run of " + d.File + ": nothing was written; the counts are what the import would do."
	} else {
		v.Notice = "The file " + d.File + " was imported."
	}
	return http.StatusOK
}

// rowErrors: e lists problems of the file's lines.
func rowErrors(e *warehouse.Error) bool {
	for _, f := range e.Fields {
		if f.Line > 0 {
			return true
		}
	}
	return false
}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// byteSize is n bytes for a person: "812 B", "3.4 KiB", "64 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	s := fmt.Sprintf("%.1f", float64(n)/float64(div))
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + string("KMGT"[exp]) + "iB"
}

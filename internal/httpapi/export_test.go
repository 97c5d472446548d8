package httpapi

// OnHumaHandler makes s call f with the OperationID of every request that
// Huma's handler serves (rather than a fast path), for the external tests.
// Set it before serving.
func OnHumaHandler(s *Server, f func(opID string)) { s.adapter.onHuma = f }

package console

// importRoutes adds the imports' pages.
func (s *Server) importRoutes() {}

//! The backend-independent contract suite.

//! Diagnostics: codes, severities, labels; rendering through codespan-reporting and JSON for agents

//! Reference interpreter of the tile IR (the source of truth every backend is judged against)

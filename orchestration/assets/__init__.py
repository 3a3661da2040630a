"""One module per stage of the asset graph; assets are thin and call the rooms' functions."""

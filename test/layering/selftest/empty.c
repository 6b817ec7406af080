/* no code: the targets only need a source */

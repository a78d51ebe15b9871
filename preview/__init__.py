"""What a stack deploys, seen without AWS: the program under mocks, its resource graph, its diagram."""

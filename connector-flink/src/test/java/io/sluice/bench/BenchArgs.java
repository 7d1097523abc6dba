package io.sluice.bench;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** The {@code --name value} arguments of a benchmark main: unknown names and bad numbers exit 2 with the usage line. */
final class BenchArgs {
  private final Map<String, String> values = new HashMap<>();
  private final String usage;

  BenchArgs(String[] args, Set<String> known, String usage) {
    this.usage = usage;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || i + 1 >= args.length) fail("expected --name value, got " + a);
      String name = a.substring(2);
      if (!known.contains(name)) fail("unknown option " + a);
      values.put(name, args[++i]);
    }
  }

  String get(String name, String fallback) {
    return values.getOrDefault(name, fallback);
  }

  String required(String name) {
    String v = values.get(name);
    if (v == null) fail("--" + name + " is required");
    return v;
  }

  long number(String name, String fallback) {
    String v = fallback == null ? required(name) : get(name, fallback);
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      fail("--" + name + ": " + v + " is not an integer");
      return -1;
    }
  }

  /** Prints why and the usage line, then exits 2. */
  void fail(String why) {
    System.err.println(why);
    System.err.println("usage: " + usage);
    System.exit(2);
  }
}

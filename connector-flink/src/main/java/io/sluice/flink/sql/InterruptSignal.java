package io.sluice.flink.sql;

/**
 * Routes SIGINT (Ctrl-C) to a handler instead of ending the JVM, so the launcher can stop its job
 * with a savepoint. Uses {@code sun.misc.Signal} (module jdk.unsupported) through reflection; where
 * it is missing the default handling (the JVM exits) stays and a warning says so.
 */
final class InterruptSignal {
  private InterruptSignal() {}

  /** Installs {@code onInterrupt} for SIGINT; it runs on the JVM's signal thread, once per signal. */
  static void install(Runnable onInterrupt) {
    try {
      Class<?> signalClass = Class.forName("sun.misc.Signal");
      Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
      Object signal = signalClass.getConstructor(String.class).newInstance("INT");
      Object handler = java.lang.reflect.Proxy.newProxyInstance(
          InterruptSignal.class.getClassLoader(), new Class<?>[] {handlerClass},
          (proxy, method, args) -> {
            if (method.getName().equals("handle")) {
              onInterrupt.run();
              return null;
            }
            if (method.getName().equals("toString")) {
              return "sluice-flink SIGINT handler";
            }
            if (method.getName().equals("hashCode")) {
              return System.identityHashCode(proxy);
            }
            if (method.getName().equals("equals")) {
              return proxy == args[0];
            }
            return null;
          });
      signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, signal, handler);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      System.err.println("warning: Ctrl-C will end the JVM without stopping the job cleanly ("
          + e + ")");
    }
  }
}

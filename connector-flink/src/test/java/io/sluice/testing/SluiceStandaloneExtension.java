package io.sluice.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One real `sluice standalone` for a test class: started before the class's own {@code @BeforeAll}
 * methods, stopped (and its data dir deleted) after the class.
 *
 * <pre>{@code @RegisterExtension static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();}</pre>
 */
public final class SluiceStandaloneExtension implements BeforeAllCallback, AfterAllCallback {
  private final String[] extraArgs;
  private SluiceStandalone sluice;

  public SluiceStandaloneExtension(String... extraArgs) {
    this.extraArgs = extraArgs.clone();
  }

  /** The running standalone (kill and restart it through this object). */
  public SluiceStandalone get() {
    if (sluice == null) throw new IllegalStateException("the standalone starts before the test class's @BeforeAll methods");
    return sluice;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    sluice = SluiceStandalone.start(extraArgs);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (sluice != null) sluice.close();
    sluice = null;
  }
}
